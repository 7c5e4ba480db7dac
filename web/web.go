// Package web is zccpd's operator dashboard: a small JSON and
// Server-Sent Events API over the broker, and a page (plain JavaScript,
// no dependency, embedded in the binary) that shows live devices, last
// values, a live notification stream, a command console and the broker's
// rates.
//
// The page's live parts go through an ordinary ZCCP client session that
// the dashboard opens to the broker: a slow browser can only make that
// session drop notifications (the broker's drop-oldest policy and the
// client's bounded channel), never slow the broker.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
)

//go:embed assets
var assets embed.FS

// Config says what the dashboard shows and how it reaches the broker.
type Config struct {
	Broker   *broker.Broker
	Endpoint string // where the dashboard's own client session connects (a private ipc name)
	Logger   *slog.Logger
	// MaxStreams bounds the live streams (SSE) open at once; 0: 16.
	MaxStreams int
}

// Server is the dashboard. Close it when the broker stops.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	streams chan struct{} // semaphore of open streams
	started time.Time

	mu  sync.Mutex
	cli *client.Client // connected on first need; guarded by mu
}

// New returns the dashboard for cfg.Broker.
func New(cfg Config) (*Server, error) {
	if cfg.Broker == nil || cfg.Endpoint == "" {
		return nil, errors.New("web: Config needs Broker and Endpoint")
	}
	if cfg.MaxStreams < 0 {
		return nil, fmt.Errorf("web: MaxStreams %d is negative", cfg.MaxStreams)
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), streams: make(chan struct{}, cfg.MaxStreams), started: time.Now()}
	static, _ := fs.Sub(assets, "assets")
	s.mux.Handle("GET /", http.FileServerFS(static))
	s.mux.HandleFunc("GET /api/stats", s.stats)
	s.mux.HandleFunc("GET /api/clients", s.clients)
	s.mux.HandleFunc("GET /api/last", s.last)
	s.mux.HandleFunc("GET /api/stream", s.stream)
	s.mux.HandleFunc("POST /api/call", s.call)
	return s, nil
}

// ServeHTTP serves the page and its API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	s.mux.ServeHTTP(w, r)
}

// Close ends the dashboard's client session.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cli == nil {
		return nil
	}
	err := s.cli.Close()
	s.cli = nil
	return err
}

// session returns the dashboard's client session, connecting it first.
func (s *Server) session(ctx context.Context) (*client.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cli != nil {
		return s.cli, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := client.Connect(cctx, s.cfg.Endpoint,
		client.WithIdentifier(fmt.Sprintf("zccpd-dashboard-%d", os.Getpid())),
		client.WithLabels(map[string]string{"role": "dashboard"}),
		client.WithLogger(s.cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("web: dashboard session: %w", err)
	}
	s.cli = c
	return c, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// statsView is /api/stats.
type statsView struct {
	Time       time.Time          `json:"time"`
	Uptime     float64            `json:"uptime_s"`
	Version    string             `json:"version"`
	Broker     broker.Stats       `json:"broker"`
	Retain     broker.RetainStats `json:"retain"`
	Goroutines int                `json:"goroutines"`
	HeapBytes  uint64             `json:"heap_bytes"`
}

func (s *Server) stats(w http.ResponseWriter, _ *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b := s.cfg.Broker
	writeJSON(w, statsView{Time: time.Now(), Uptime: time.Since(s.started).Seconds(), Version: broker.Version,
		Broker: b.Stats(), Retain: b.RetainStats(), Goroutines: runtime.NumGoroutine(), HeapBytes: ms.HeapAlloc})
}

func (s *Server) clients(w http.ResponseWriter, _ *http.Request) {
	v := s.cfg.Broker.Observe()
	if v == nil {
		v = []broker.ClientView{}
	}
	writeJSON(w, v)
}
