package readme

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// shBlocks returns the README's ```sh blocks, each as its lines.
func shBlocks(t *testing.T, readme string) [][]string {
	var blocks [][]string
	var cur []string
	in := false
	for _, line := range strings.Split(readme, "\n") {
		switch {
		case !in && strings.HasPrefix(line, "```sh"):
			in, cur = true, nil
		case in && strings.HasPrefix(line, "```"):
			in = false
			blocks = append(blocks, cur)
		case in && strings.TrimSpace(line) != "":
			cur = append(cur, line)
		}
	}
	if in {
		t.Fatal("README: unterminated code block")
	}
	return blocks
}

// A line starting one of these runs until stopped: the script starts it
// in the background, waits until it is up, and at the end checks that it
// is still running (it did not fail) before stopping it.
var longRunning = regexp.MustCompile(`^(make run|make demo|zccpd|zccp (sub|device|recv|top|demo))\b`)

// skipped lines, and why.
var skipped = map[string]string{
	"make test": "it is the suite this test belongs to",
}

var endpointArg = regexp.MustCompile(`--endpoint (\S+)`)
var printsArg = regexp.MustCompile(`# prints "([^"]+)"`)

// script turns the blocks into one bash script (the blocks run in order,
// in one session: a later block uses what an earlier one started).
func script(t *testing.T, blocks [][]string, files map[string]string) (string, int) {
	var b strings.Builder
	b.WriteString(`set -u
ip link set lo up
pids=()
fail() { echo "README FAIL: $*" >&2; exit 1; }
# Every background command runs in its own process group (setsid), stopped
# whole at the end: clients first, the broker last.
stop() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM -- "-${pids[i]}" 2>/dev/null; done
  sleep 1
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
}
trap stop EXIT
clients() { zccp clients --endpoint "$1" --connect-timeout 500ms 2>/dev/null | wc -l; }
up() { # wait until the broker at $1 answers (while the command that starts it, $2, runs)
  for _ in $(seq 600); do
    zccp clients --endpoint "$1" --connect-timeout 500ms >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || fail "the command meant to start a broker at $1 exited: $(tail -n 5 "$LOGS"/*.out)"
    sleep 0.1
  done
  fail "no broker at $1"
}
settle() { # wait until clients have joined the broker at $1 and their number holds for a second
  prev=-1 same=0
  for _ in $(seq 600); do
    n=$(clients "$1")
    if [ "$n" -gt 2 ] && [ "$n" -eq "$prev" ]; then same=$((same + 1)); [ "$same" -ge 5 ] && return 0; else same=0; fi
    prev=$n
    sleep 0.2
  done
  fail "the clients at $1 did not settle"
}
more() { # wait until the broker at $1 has more than $2 clients
  for _ in $(seq 300); do [ "$(clients "$1")" -gt "$2" ] && return 0; sleep 0.1; done
  fail "no new client at $1"
}
`)
	n := 0
	for _, block := range blocks {
		for _, line := range block {
			cmd := strings.TrimSpace(line)
			if why, ok := skipped[strings.TrimSpace(strings.SplitN(cmd, "#", 2)[0])]; ok {
				t.Logf("skipped %q: %s", cmd, why)
				continue
			}
			n++
			ep := "ipc://@/zccp"
			if m := endpointArg.FindStringSubmatch(cmd); m != nil {
				ep = m[1]
			} else if strings.HasPrefix(cmd, "make demo") {
				ep = "ipc://@/zccp-demo"
			}
			// Each command goes into a file of its own, run by bash as it is.
			files[fmt.Sprintf("%d.sh", n)] = cmd + "\n"
			fmt.Fprintf(&b, "echo \"+ $(cat \"$LOGS/%d.sh\")\" >&2\n", n)
			if longRunning.MatchString(cmd) {
				if strings.HasPrefix(cmd, "make ") || strings.HasPrefix(cmd, "zccpd") {
					fmt.Fprintf(&b, "setsid bash \"$LOGS/%d.sh\" >\"$LOGS/%d.out\" 2>&1 </dev/null &\npids+=($!)\nup %q $!\n", n, n, ep)
					if strings.HasPrefix(cmd, "make demo") {
						// The demo's devices connect after the broker answers; the
						// README's next commands talk to them.
						fmt.Fprintf(&b, "settle %q\n", ep)
					}
				} else {
					fmt.Fprintf(&b, "before=$(clients %q)\nsetsid bash \"$LOGS/%d.sh\" >\"$LOGS/%d.out\" 2>&1 </dev/null &\npids+=($!)\nmore %q \"$before\"\n", ep, n, n, ep)
				}
				continue
			}
			fmt.Fprintf(&b, "out=$(timeout 120 bash \"$LOGS/%d.sh\" </dev/null 2>\"$LOGS/%d.err\") || fail \"exit $? from command %d: $(cat \"$LOGS/%d.err\")\"\nprintf '%%s\\n' \"$out\"\n",
				n, n, n, n)
			if m := printsArg.FindStringSubmatch(cmd); m != nil {
				fmt.Fprintf(&b, "case \"$out\" in *%q*) ;; *) fail \"expected %s in: $out\" ;; esac\n", m[1], m[1])
			}
		}
	}
	b.WriteString(`for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || fail "a background command exited early (pid $p)"; done
echo "README OK"
`)
	return b.String(), n
}

// TestReadmeCommands runs every command of the README's sh blocks, as
// printed, in a fresh network namespace (its own loopback and abstract
// unix socket names, so the default endpoints and ports clash with
// nothing else on the machine), with zccp and zccpd built from this tree
// first on PATH. Every foreground command must exit 0.
func TestReadmeCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs make demo and make run")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare (util-linux) is needed to give the README its own network namespace")
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	src, n := script(t, shBlocks(t, string(readme)), files)
	if n < 10 {
		t.Fatalf("only %d commands found in the README", n)
	}
	tmp := t.TempDir()
	gobin := filepath.Join(tmp, "gobin")
	// Build (and fetch modules) outside the namespace, which has no network.
	for _, args := range [][]string{{"build", "-o", gobin + "/", "./cmd/zccp", "./cmd/zccpd", "./examples/overload"}, {"build", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	logs := filepath.Join(tmp, "logs")
	os.MkdirAll(logs, 0o755)
	for name, body := range files {
		os.WriteFile(filepath.Join(logs, name), []byte(body), 0o644)
	}
	os.WriteFile(filepath.Join(tmp, "readme.sh"), []byte(src), 0o755)
	cmd := exec.Command("timeout", "--kill-after=10", "300", "unshare", "--net", "--fork", "--kill-child", "bash", filepath.Join(tmp, "readme.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PATH="+gobin+":"+os.Getenv("PATH"), "GOBIN="+gobin, "LOGS="+logs, "GOFLAGS=-mod=mod", "GOPROXY=off",
		"DEMO_DATA="+filepath.Join(tmp, "demo-data"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	t.Logf("%d commands in %v", n, time.Since(start).Round(time.Millisecond))
	if err != nil || !strings.Contains(out.String(), "README OK") {
		bg, _ := exec.Command("sh", "-c", "tail -n 20 "+logs+"/*.out").CombinedOutput()
		t.Fatalf("%v\n%s\nbackground logs:\n%s", err, out.String(), bg)
	}
}
