package manpage

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func TestParseDefaultsReadsEveryFlag(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("bind", "a", "where to bind\nrepeatable")
	fs.Bool("json", false, "print JSON")
	fs.Duration("timeout", time.Second, "how long")
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	got := ParseDefaults(b.String())
	if len(got) != 3 {
		t.Fatalf("got %d flags from %q", len(got), b.String())
	}
	want := []Flag{{"bind", "string", "where to bind repeatable (default \"a\")"}, {"json", "", "print JSON"}, {"timeout", "duration", "how long (default 1s)"}}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("flag %d: got %+v, want %+v", i, got[i], w)
		}
	}
}

func TestWriteEscapesAndListsFlags(t *testing.T) {
	var b strings.Builder
	p := Page{Name: "zccp", Section: "1", Version: "v1", Summary: "a client", Synopsis: "zccp COMMAND",
		Description: ".starts with a dot\n\nsecond paragraph", Flags: []Flag{{Name: "endpoint", Arg: "string", Usage: `a\b-c`}},
		More: []Section{{Title: "Commands", Commands: []Command{{Name: "pub", Args: "ADDRESS", Summary: "publish", Flags: []Flag{{Name: "retain", Usage: "keep it"}}}}}}}
	if err := Write(&b, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{".TH ZCCP 1", `\&.starts with a dot`, ".PP", `.B \-\-endpoint \fIstring\fR`, `a\eb\-c`, `.SS "pub ADDRESS"`, `.B \-\-retain`} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q:\n%s", want, out)
		}
	}
}
