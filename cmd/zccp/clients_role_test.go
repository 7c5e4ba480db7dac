package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/policy"
)

// TestClientsRoleColumn: under a permission policy zccp clients shows
// each hand-framed session's role in a ROLE column after LABELS (without
// a policy there is no such column: TestClientsList).
func TestClientsRoleColumn(t *testing.T) {
	pol, err := policy.Parse("test.policy", []byte(`
role ops
  api clients
role dev
  publish metrics.**
assign dev ident=pdu-*
default ops
`))
	if err != nil {
		t.Fatal(err)
	}
	b := brokertest.Start(t, broker.Config{Policy: pol})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range []string{"pdu-1", "viewer-1"} {
		p, err := rawpeer.Dial(ctx, b.IPC)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		if err := p.Hello(ctx, id, rawpeer.Header{Name: "kind", Value: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := zccp(ctx, b.IPC, "", "clients")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "IDENTIFIER LABELS ROLE SINCE REMOTE PUBLISHED DELIVERED DROPPED" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errs, out)
	}
	for i, want := range [][]string{{"pdu-1", "kind=x", "dev"}, {"viewer-1", "kind=x", "ops"}} {
		if f := strings.Fields(lines[i+1]); len(f) != 8 || f[0] != want[0] || f[1] != want[1] || f[2] != want[2] || f[5] != "0" {
			t.Fatalf("row %q, want %v", lines[i+1], want)
		}
	}
}
