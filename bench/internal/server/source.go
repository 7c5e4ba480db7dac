package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// ResolveSource returns the directory of the zccp source tree to build
// zccpd (and zccpdprof) from. spec is "" for the repository's working
// tree, a directory, or "git:REV" for a commit of the repository,
// exported (git archive) into Tmp/zccp-REV: handy to compare a change
// with the commit before it, or to measure while the working tree is
// being edited.
func ResolveSource(ctx context.Context, p Paths, spec string) (string, error) {
	switch {
	case spec == "":
		return p.Repo, nil
	case strings.HasPrefix(spec, "git:"):
		rev := strings.TrimPrefix(spec, "git:")
		out, err := exec.CommandContext(ctx, "git", "-C", p.Repo, "rev-parse", "--short=12", rev+"^{commit}").Output()
		if err != nil {
			return "", fmt.Errorf("-zccp-src %s: %v", spec, err)
		}
		hash := strings.TrimSpace(string(out))
		dir := filepath.Join(p.Tmp, "zccp-"+hash)
		if fileExists(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		cmd := exec.CommandContext(ctx, "bash", "-c",
			fmt.Sprintf("git -C %q archive %s | tar -x -C %q", p.Repo, hash, dir))
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("exporting %s: %v: %s", spec, err, out)
		}
		return dir, nil
	default:
		dir, err := filepath.Abs(spec)
		if err != nil {
			return "", err
		}
		if !fileExists(filepath.Join(dir, "cmd", "zccpd")) {
			return "", fmt.Errorf("-zccp-src %s: no cmd/zccpd there", spec)
		}
		return dir, nil
	}
}

var replaceLine = regexp.MustCompile(`(?m)^replace github.com/zccp-go/zccp => .*$`)

// modfileFor writes a copy of the bench module's go.mod (and go.sum)
// whose replace points at src, for building zccpdprof against another
// source tree with go build -modfile.
func modfileFor(p Paths, src string) (string, error) {
	mod, err := os.ReadFile(filepath.Join(p.Bench, "go.mod"))
	if err != nil {
		return "", err
	}
	sum, err := os.ReadFile(filepath.Join(p.Bench, "go.sum"))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(p.Tmp, 0o755); err != nil {
		return "", err
	}
	mod = replaceLine.ReplaceAll(mod, []byte("replace github.com/zccp-go/zccp => "+src))
	path := filepath.Join(p.Tmp, "prof.mod")
	if err := os.WriteFile(path, mod, 0o644); err != nil {
		return "", err
	}
	return path, os.WriteFile(filepath.Join(p.Tmp, "prof.sum"), sum, 0o644)
}
