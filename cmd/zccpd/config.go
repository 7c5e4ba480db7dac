package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// The configuration file (--config, ZCCPD_CONFIG) is TOML's simple
// subset: one `name = value` per line, names are the flags' names (a
// dash or an underscore), values are quoted strings, numbers, booleans or,
// for bind, an array of strings; # starts a comment. Tables, unknown
// names and anything else are refused. Precedence: flags > environment >
// file.

// configPath finds --config in args (before the flags are parsed: the
// file goes under the environment and the flags) or ZCCPD_CONFIG.
func configPath(args []string) string {
	for i, a := range args {
		name, v, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if ok {
			return v
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return os.Getenv("ZCCPD_CONFIG")
}

// readConfig parses a configuration file into flag name → values.
func readConfig(r io.Reader) (map[string][]string, error) {
	out := map[string][]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(stripComment(sc.Text()))
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name = strings.ReplaceAll(strings.TrimSpace(name), "_", "-")
		if !ok || name == "" || strings.HasPrefix(line, "[") {
			return nil, fmt.Errorf("line %d: want name = value, got %q", n, line)
		}
		vals, err := configValues(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("line %d (%s): %w", n, name, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("line %d: %s is set twice", n, name)
		}
		out[name] = vals
	}
	return out, sc.Err()
}

// stripComment drops a # comment that is not inside a quoted string.
func stripComment(line string) string {
	in := false
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && in:
			i++
		case line[i] == '"':
			in = !in
		case line[i] == '#' && !in:
			return line[:i]
		}
	}
	return line
}

func configValues(v string) ([]string, error) {
	if strings.HasPrefix(v, "[") {
		if !strings.HasSuffix(v, "]") {
			return nil, fmt.Errorf("unterminated array %q", v)
		}
		var out []string
		for _, item := range strings.Split(strings.TrimSuffix(v[1:], "]"), ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			s, err := configScalar(item)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := configScalar(v)
	return []string{s}, err
}

func configScalar(v string) (string, error) {
	if strings.HasPrefix(v, `"`) {
		s, err := strconv.Unquote(v)
		if err != nil {
			return "", fmt.Errorf("bad string %s", v)
		}
		return s, nil
	}
	if v == "true" || v == "false" {
		return v, nil
	}
	if _, err := strconv.ParseFloat(strings.ReplaceAll(v, "_", ""), 64); err == nil {
		return strings.ReplaceAll(v, "_", ""), nil
	}
	return "", fmt.Errorf("want a quoted string, a number or a boolean, got %q", v)
}

// applyConfig sets the flags the file names. It runs before the
// environment and the command line are applied, so both win over it.
func applyConfig(fs *flag.FlagSet, s *settings, path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	vals, err := readConfig(f)
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	for name, vs := range vals {
		fl := fs.Lookup(name)
		if fl == nil || name == "config" || name == "version" {
			return nil, fmt.Errorf("--config %s: unknown setting %q", path, name)
		}
		if len(vs) != 1 && name != "bind" {
			return nil, fmt.Errorf("--config %s: %s takes one value", path, name)
		}
		for _, v := range vs {
			if err := fl.Value.Set(v); err != nil {
				return nil, fmt.Errorf("--config %s: %s = %q: %w", path, name, v, err)
			}
		}
	}
	s.binds.set = false // a --bind flag or ZCCPD_BIND replaces the file's list
	return vals, nil
}
