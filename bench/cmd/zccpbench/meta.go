package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/zccp-go/zccp/bench/internal/server"
)

// machine describes the CPU, cores and kernel.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	var u syscall.Utsname
	kernel := ""
	if syscall.Uname(&u) == nil {
		kernel = cstr(u.Release[:])
	}
	return fmt.Sprintf("%s, %d cores, Linux %s, %s", model, runtime.NumCPU(), kernel, runtime.Version())
}

func cstr(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// versions reports what was measured: zccpd's source revision, the
// nats-server and mosquitto versions.
func versions(ctx context.Context, p server.Paths, src string, brokers map[string]bool) []string {
	var out []string
	var rev string
	if base := filepath.Base(src); filepath.Dir(src) == p.Tmp && strings.HasPrefix(base, "zccp-") {
		rev = "commit " + strings.TrimPrefix(base, "zccp-") // exported by -zccp-src git:REV
	} else {
		rev = output(ctx, src, "git", "rev-parse", "--short=12", "HEAD")
		if dirty := output(ctx, src, "git", "status", "--porcelain", "--", "."); dirty != "" {
			rev += " + uncommitted changes"
		}
	}
	out = append(out, fmt.Sprintf("zccpd: %s built from %s (%s)", strings.TrimSpace(output(ctx, "", filepath.Join(p.Bin, "zccpd"), "--version")), src, rev))
	if brokers["nats"] {
		out = append(out, output(ctx, "", filepath.Join(p.Bin, "nats-server"), "--version")+" (module proxy), client nats.go v1.53.1")
	}
	if brokers["mosquitto"] {
		v := output(ctx, "", server.MosquittoPath, "-h")
		v, _, _ = strings.Cut(v, "\n")
		out = append(out, "mosquitto: "+v+" (Debian package), client paho.mqtt.golang v1.5.1, MQTT 3.1.1 QoS 0")
	}
	return out
}

// output runs a command and returns its trimmed combined output ("" on
// failure to start).
func output(ctx context.Context, dir, name string, args ...string) string {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	b, _ := cmd.CombinedOutput()
	return strings.TrimSpace(string(b))
}
