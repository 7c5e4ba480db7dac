package broker

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zccp-go/zccp/audit"
	"github.com/zccp-go/zccp/codec"
)

// auditAPI answers the broker API method audit; it reports whether the
// method was that one. The records are those of the filter in
// zccp-select (a URL query: since, until, target, method, kind, limit),
// the newest that fit in the broker's maximum message size, oldest
// first; zccp-truncated says how many older matching ones were left out.
func (p *peer) auditAPI(s *session, e *ext) bool {
	if string(e.method) != codec.MethodAudit {
		return false
	}
	id := string(e.requestID)
	switch {
	case p.b.audit == nil:
		p.reply(requestError(id, codec.NoticeSender, codec.ErrCodeNoSuchMethod, "the audit log is off (zccpd --audit)"))
	case !p.isKeyAdmin(p.b.enrol): // enrol.go
		p.auditMethodRefused(s, e, codec.ErrCodeNotAuthorized, "not an admin")
		p.reply(requestError(id, codec.NoticeSender, codec.ErrCodeNotAuthorized, "the audit method needs an admin key (zccpd --admin-keys) or a local ipc session"))
	default:
		f, limit, err := parseAuditSelect(string(e.sel))
		if err != nil {
			p.reply(requestError(id, codec.NoticeSender, codec.ErrCodeBadRequest, err.Error()))
			return true
		}
		p.reply(p.b.auditAnswer(s, id, f, limit))
	}
	return true
}

// auditAnswer runs one query and builds its reply.
func (b *Broker) auditAnswer(s *session, id string, f audit.Filter, limit int) codec.Message {
	maxBytes := int64(b.cfg.MaxMessageSize - 4096)
	b.audit.queries.Lock()
	b.audit.log.Sync(time.Second) // what is queued now is in the files
	res, err := audit.Query(b.audit.log.Dir(), f, limit, maxBytes)
	b.audit.queries.Unlock()
	if err != nil {
		return requestError(id, codec.NoticeSender, codec.ErrCodeDeviceError, "reading the audit log: "+err.Error())
	}
	lines, left, missing := b.auditMerged(res, f, limit, maxBytes) // federation_audit.go: the other brokers' records
	h := codec.Headers{codec.HdrReplyTo: id, codec.HdrStatus: codec.StatusOK}
	if left > 0 {
		h[codec.HdrTruncated] = strconv.Itoa(left)
	}
	if len(missing) > 0 {
		h[codec.HdrMissingBrokers] = strings.Join(missing, ",")
	}
	return brokerDeliver(s.ident, h, lines, "") // none: one empty frame
}

// parseAuditSelect reads the audit method's filter.
func parseAuditSelect(sel string) (f audit.Filter, limit int, err error) {
	q, err := url.ParseQuery(sel)
	if err != nil {
		return f, 0, errors.New("zccp-select: want a URL query (since=RFC3339&target=ID&method=M&kind=K&limit=N): " + err.Error())
	}
	for k := range q {
		switch k {
		case "since", "until", "target", "method", "kind", "limit":
		default:
			return f, 0, errors.New("zccp-select: unknown filter " + strconv.Quote(k) + " (since, until, target, method, kind, limit)")
		}
	}
	if f.Since, err = parseTime(q.Get("since")); err != nil {
		return f, 0, err
	}
	if f.Until, err = parseTime(q.Get("until")); err != nil {
		return f, 0, err
	}
	f.Target, f.Method, f.Kind = q.Get("target"), q.Get("method"), q.Get("kind")
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return f, 0, errors.New("zccp-select: limit must be a positive number")
		}
	}
	return f, limit, nil
}

func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, errors.New("zccp-select: times are RFC 3339 (2026-01-02T15:04:05Z): " + err.Error())
	}
	return t, nil
}
