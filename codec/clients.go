package codec

import "time"

// ClientInfo is one record of the broker's answer to MethodClients: one
// JSON object per content frame.
type ClientInfo struct {
	Identifier    string            `json:"identifier"`
	Labels        map[string]string `json:"labels"` // HELLO headers except zccp- names
	Since         time.Time         `json:"since"`
	Session       uint64            `json:"session"`
	Remote        string            `json:"remote"`
	Published     uint64            `json:"published"`
	Directs       uint64            `json:"directs"`
	Delivered     uint64            `json:"delivered"`
	Dropped       uint64            `json:"dropped"`
	Subscriptions int64             `json:"subscriptions"`
	Serves        bool              `json:"serves"`         // declared at HELLO (zccp-serves: 1): a member of group requests
	Key           string            `json:"key,omitempty"`  // the client's CURVE public key (Z85); absent with NULL
	UID           *int              `json:"uid,omitempty"`  // ipc: the client process's user id (SO_PEERCRED)
	PID           int               `json:"pid,omitempty"`  // ipc: the client process's id
	Role          string            `json:"role,omitempty"` // its role under the broker's permission policy; absent without one
}
