package broker

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zccp-go/zccp/codec"
)

func TestMetricsReflectTraffic(t *testing.T) {
	b, eps := startBroker(t, Config{})
	sub := dialRaw(t, eps[0])
	sub.hello("sub")
	sub.subscribe("m")
	pub := dialRaw(t, eps[0])
	pub.hello("pub")
	pub.publish("m", "1")
	pub.publish("m", "2")
	sub.expect(codec.Deliver)
	sub.expect(codec.Deliver)
	srv := httptest.NewServer(b.MetricsHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"# TYPE zccp_published_total counter\nzccp_published_total 2\n",
		"zccp_deliveries_total 2\n",
		"zccp_sessions 2\n",
		"zccp_subscriptions 1\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
}
