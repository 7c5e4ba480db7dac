package webtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/zccp-go/zccp/client"
)

// artifacts is where screenshots go: $WEBTEST_ARTIFACTS, or
// webtest/artifacts.
func artifacts(t *testing.T) string {
	dir := os.Getenv("WEBTEST_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startZccpd builds and runs zccpd on a fresh abstract ipc name with the
// dashboard on a loopback port; it returns the broker endpoint and the
// dashboard URL.
func startZccpd(t *testing.T) (endpoint, url string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zccpd")
	if out, err := exec.Command("go", "build", "-C", "..", "-o", bin, "./cmd/zccpd").CombinedOutput(); err != nil {
		t.Fatalf("build zccpd: %v\n%s", err, out)
	}
	endpoint = fmt.Sprintf("ipc://@/zccp-webtest-%d-%d", os.Getpid(), time.Now().UnixNano())
	cmd := exec.Command(bin, "--bind", endpoint, "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	var logMu sync.Mutex
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			log.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "http listening" {
				addr <- rec.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return endpoint, "http://" + a + "/"
	case <-time.After(20 * time.Second):
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("zccpd did not serve HTTP:\n%s", log.String())
	}
	return "", ""
}

// device connects one simulated device that answers every request with
// "<id>: <method> done".
func device(t *testing.T, endpoint, id string, labels map[string]string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, endpoint, client.WithIdentifier(id), client.WithLabels(labels),
		client.WithHandleAll(func(_ context.Context, r *client.Request) (*client.Reply, error) {
			return &client.Reply{Content: [][]byte{[]byte(id + ": " + r.Method + " done")}}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func browser(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Fatal("no chromium: run make test-web, which installs Debian's chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	return ctx, func() { cancelTimeout(); cancelCtx(); cancelAlloc() }
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(artifacts(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot: %s", path)
}

// waitText polls (bounded by ctx) until the element's text contains want.
func waitText(ctx context.Context, sel, want string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var got string
		for {
			err := chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(`(document.querySelector(%q)||{}).innerText||""`, sel), &got))
			if err != nil {
				return err
			}
			if strings.Contains(got, want) {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s never showed %q (last: %.300q): %w", sel, want, got, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// TestDashboard: a device appears, a reading arrives (live stream and
// last values), a group command's replies all show with the summary.
func TestDashboard(t *testing.T) {
	endpoint, url := startZccpd(t)
	ctx, cancel := browser(t)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.Navigate(url), waitText(ctx, "#health", "healthy")); err != nil {
		t.Fatal(err)
	}

	// A device appears.
	pdu := device(t, endpoint, "pdu-r1-a", map[string]string{"rack": "r1", "kind": "pdu"})
	if err := chromedp.Run(ctx, waitText(ctx, "#devices", "pdu-r1-a"), waitText(ctx, "#devices", "rack=r1")); err != nil {
		t.Fatal(err)
	}

	// A reading arrives in the live stream and in the last values.
	if err := chromedp.Run(ctx,
		chromedp.SetValue("#stream-pattern", `^power\.`, chromedp.ByQuery),
		chromedp.Click("#stream-start", chromedp.ByQuery),
		waitText(ctx, "#stream-status", "watching")); err != nil {
		t.Fatal(err)
	}
	// The stream's subscription is live once the broker holds it: keep
	// publishing until the page shows a reading (bounded by ctx).
	got := make(chan error, 1)
	go func() {
		got <- chromedp.Run(ctx, waitText(ctx, "#stream-log", "pdu-r1-a power.r1.a {unit=W zccp-retain=1} 4120 W"))
	}()
	for done := false; !done; {
		pdu.PublishRetained("power.r1.a", map[string]string{"unit": "W"}, []byte("4120 W"))
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		case <-time.After(300 * time.Millisecond):
		}
	}
	if err := chromedp.Run(ctx, waitText(ctx, "#last", "4120 W")); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "dashboard-reading.png")

	// A group command: every device of rack r1 answers.
	ids := []string{"pdu-r1-a", "sw-r1-1", "hv-r1-1", "hv-r1-2"}
	for _, id := range ids[1:] {
		device(t, endpoint, id, map[string]string{"rack": "r1", "kind": strings.SplitN(id, "-", 2)[0]})
	}
	device(t, endpoint, "pdu-r2-a", map[string]string{"rack": "r2", "kind": "pdu"}) // not in the group
	if err := chromedp.Run(ctx, waitText(ctx, "#devices-count", "5 connected")); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(ctx,
		chromedp.Click(`input[name=mode][value=group]`, chromedp.ByQuery),
		chromedp.SetValue("#console-labels", "rack=r1", chromedp.ByQuery),
		chromedp.SetValue("#console-method", "status", chromedp.ByQuery),
		chromedp.Click("#console-run", chromedp.ByQuery),
		waitText(ctx, "#console-summary", "summary: ok 4, failed 0, no answer 0"),
		waitText(ctx, "#console-receipt", "routed to 4 device(s)")); err != nil {
		t.Fatal(err)
	}
	var table string
	if err := chromedp.Run(ctx, chromedp.Text("#console-replies", &table, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !strings.Contains(table, id+": status done") {
			t.Errorf("reply of %s missing from the table:\n%s", id, table)
		}
	}
	if strings.Contains(table, "pdu-r2-a") {
		t.Errorf("a device outside the group answered:\n%s", table)
	}
	screenshot(t, ctx, "dashboard-group-command.png")

	// The device leaves: the page shows it.
	pdu.Close()
	if err := chromedp.Run(ctx, waitText(ctx, "#devices", "left")); err != nil {
		t.Fatal(err)
	}
}
