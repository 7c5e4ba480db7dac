package match

import "fmt"

// Expression shapes used by tests and benchmarks: the typical shapes of the
// issue, plus a literal suffix.

// shapeExpr returns the i-th distinct expression of a shape.
func shapeExpr(shape, i int) string {
	switch shape {
	case 0:
		return fmt.Sprintf(`^power\.rack%04d\.pdu%d$`, i/10, i%10)
	case 1:
		return fmt.Sprintf(`^sensor\.%05d\.`, i)
	case 2:
		return fmt.Sprintf(`rack%06d`, i)
	case 3:
		return fmt.Sprintf(`temp\.node(\d+)\.r%d`, i)
	default:
		return fmt.Sprintf(`\.pdu%05d$`, i)
	}
}

// shapeAddr returns an address matched by shapeExpr(shape, i).
func shapeAddr(shape, i int) string {
	switch shape {
	case 0:
		return fmt.Sprintf("power.rack%04d.pdu%d", i/10, i%10)
	case 1:
		return fmt.Sprintf("sensor.%05d.temp", i)
	case 2:
		return fmt.Sprintf("dc1.rack%06d.pdu2", i)
	case 3:
		return fmt.Sprintf("temp.node%d.r%d", i%97, i)
	default:
		return fmt.Sprintf("power.rack1.pdu%05d", i)
	}
}
