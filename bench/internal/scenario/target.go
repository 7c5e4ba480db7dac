package scenario

import (
	"fmt"
	"strings"

	"github.com/zccp-go/zccp/bench/internal/driver"
)

// Target is a broker driven by one client: a row of the report.
type Target struct {
	Name   string        // row label
	Broker string        // server.Start name
	Driver driver.Driver // load client
}

// Targets known by name.
var targets = map[string]Target{
	"zccpd":     {"zccpd", "zccpd", driver.ZCCP{}},
	"zccpd-raw": {"zccpd-raw", "zccpd", driver.ZCCPRaw{}},
	"nats":      {"nats", "nats", driver.NATS{}},
	"mosquitto": {"mosquitto", "mosquitto", driver.MQTT{}},
}

// TargetNames lists the targets in report order.
var TargetNames = []string{"zccpd", "zccpd-raw", "nats", "mosquitto"}

// Targets parses a comma-separated list of target names.
func Targets(list string) ([]Target, error) {
	var out []Target
	for name := range strings.SplitSeq(list, ",") {
		t, ok := targets[strings.TrimSpace(name)]
		if !ok {
			return nil, fmt.Errorf("unknown broker %q (have %s)", name, strings.Join(TargetNames, ", "))
		}
		out = append(out, t)
	}
	return out, nil
}
