package main

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// httpAddr resolves --http-addr: a bare ":PORT" means loopback, and a
// host that is not loopback is refused without --http-token.
func httpAddr(addr, token string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--http-addr %q: %w", addr, err)
	}
	if host == "" {
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	if isLoopback(host) || token != "" {
		return addr, nil
	}
	return "", fmt.Errorf("--http-addr %q is not a loopback address: set --http-token (the dashboard can send commands to devices)", addr)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// health answers /healthz (the process serves HTTP) and /readyz (the
// broker is bound and not stopping).
type health struct{ ready atomic.Bool }

func (h *health) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !h.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready")
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// requireToken guards next with a bearer token (Authorization header,
// or ?token= once, which then sets a cookie for the browser). An empty
// token lets everything through (loopback only, see httpAddr).
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	ok := func(got string) bool { return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bearer, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found && ok(bearer) {
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie("zccpd_token"); err == nil && ok(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		if q := r.URL.Query().Get("token"); q != "" && ok(q) {
			http.SetCookie(w, &http.Cookie{Name: "zccpd_token", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			next.ServeHTTP(w, r)
			return
		}
		http.Error(w, "unauthorized: give the --http-token as a bearer token or ?token=", http.StatusUnauthorized)
	})
}

// serveOperatorHTTP serves health and, behind the token, /metrics and app
// on the operator's HTTP address. It returns a function that stops it.
func serveOperatorHTTP(o *opSettings, h *health, metrics, app http.Handler, log *slog.Logger) (stop func(), err error) {
	addr, err := httpAddr(o.httpAddr, o.httpToken)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	h.register(mux)
	if metrics != nil {
		mux.Handle("/metrics", requireToken(o.httpToken, metrics))
	}
	if app != nil {
		mux.Handle("/", requireToken(o.httpToken, app))
	}
	return serveHTTP(addr, mux, "http", log)
}
