package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Paths locates the bench module and where binaries and scratch files go.
type Paths struct {
	Bench string // the bench module's directory
	Repo  string // the repository root (the main module)
	Bin   string // built binaries: Bench/bin
	Tmp   string // generated configs, logs: Bench/tmp
}

// FindPaths locates the bench module from the working directory (the
// bench directory itself, or the repository root).
func FindPaths() (Paths, error) {
	wd, err := os.Getwd()
	if err != nil {
		return Paths{}, err
	}
	for _, dir := range []string{wd, filepath.Join(wd, "bench")} {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && containsModule(b) {
			p := Paths{Bench: dir, Repo: filepath.Dir(dir), Bin: filepath.Join(dir, "bin"), Tmp: filepath.Join(dir, "tmp")}
			return p, nil
		}
	}
	return Paths{}, fmt.Errorf("run from the bench directory (or the repository root): no bench/go.mod found from %s", wd)
}

func containsModule(gomod []byte) bool {
	const want = "module github.com/zccp-go/zccp/bench"
	return len(gomod) >= len(want) && string(gomod[:len(want)]) == want
}

// goTool returns the go command: the one on PATH, else the one of the
// toolchain that built this program.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "/usr/local/go/bin/go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// buildStep is one go build.
type buildStep struct {
	what, dir string
	args      []string
}

// Build compiles the broker binaries the bench runs: zccpd from src's
// cmd/zccpd (src from ResolveSource), nats-server from the module proxy at the
// version the bench module requires, and (when profiling) zccpdprof.
// The go build cache makes repeated builds nearly free.
func Build(ctx context.Context, p Paths, src string, nats, prof bool, log func(string)) error {
	if err := os.MkdirAll(p.Bin, 0o755); err != nil {
		return err
	}
	steps := []buildStep{{"zccpd", src, []string{"build", "-o", filepath.Join(p.Bin, "zccpd"), "./cmd/zccpd"}}}
	if nats {
		steps = append(steps, buildStep{"nats-server", p.Bench,
			[]string{"build", "-o", filepath.Join(p.Bin, "nats-server"), "github.com/nats-io/nats-server/v2"}})
	}
	if prof {
		args := []string{"build", "-o", filepath.Join(p.Bin, "zccpdprof")}
		if src != p.Repo {
			mod, err := modfileFor(p, src)
			if err != nil {
				return err
			}
			args = append(args, "-modfile", mod)
		}
		steps = append(steps, buildStep{"zccpdprof", p.Bench, append(args, "./cmd/zccpdprof")})
	}
	for _, s := range steps {
		log(fmt.Sprintf("building %s: (cd %s && go %s)", s.what, s.dir, strings.Join(s.args, " ")))
		cmd := exec.CommandContext(ctx, goTool(), s.args...)
		cmd.Dir = s.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v\n%s", s.what, err, out)
		}
	}
	return nil
}
