package rawpeer

import "fmt"

// Tally checks a stream of numbered DELIVERs (see Burst): numbers strictly
// increase, and the zccp-missed counts the broker attached add up, so that
// Received+Missed equals what was sent once the stream is complete.
type Tally struct {
	Received uint64 // numbered DELIVERs received
	Missed   uint64 // sum of their zccp-missed headers
	Last     uint64 // last number received
	Gaps     uint64 // numbers skipped (not received) so far
	started  bool
}

// Add records one DELIVER. It returns an error if the message carries no
// number or a number not greater than the last one (reordered or
// duplicated).
func (t *Tally) Add(m *Message) error {
	seq, ok := Seq(m.Content)
	if !ok {
		return fmt.Errorf("rawpeer: DELIVER without a sequence number")
	}
	if t.started && seq <= t.Last {
		return fmt.Errorf("rawpeer: sequence %d after %d", seq, t.Last)
	}
	if t.started {
		t.Gaps += seq - t.Last - 1
	}
	t.started = true
	t.Last = seq
	t.Received++
	t.Missed += m.Missed()
	return nil
}

// Check returns an error unless the stream of sent messages numbered
// first..first+sent-1 is fully accounted for: Received+Missed == sent,
// and when nothing was reported missed, nothing was skipped either.
func (t *Tally) Check(sent uint64) error {
	if t.Received+t.Missed != sent {
		return fmt.Errorf("rawpeer: received %d + missed %d != sent %d", t.Received, t.Missed, sent)
	}
	if t.Missed == 0 && t.Gaps != 0 {
		return fmt.Errorf("rawpeer: %d numbers skipped without zccp-missed", t.Gaps)
	}
	return nil
}
