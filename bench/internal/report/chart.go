package report

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/zccp-go/zccp/bench/internal/scenario"
)

// palette gives each broker row a fixed colour.
var palette = map[string]color.Color{
	"zccpd":     color.RGBA{R: 31, G: 91, B: 180, A: 255},
	"zccpd-raw": color.RGBA{R: 120, G: 170, B: 235, A: 255},
	"nats":      color.RGBA{R: 60, G: 160, B: 80, A: 255},
	"mosquitto": color.RGBA{R: 235, G: 140, B: 40, A: 255},
}

func colorOf(t string) color.Color {
	if c, ok := palette[t]; ok {
		return c
	}
	return color.Gray{Y: 120}
}

// Chart geometry.
const (
	tileW = 620 * vg.Length(1)
	tileH = 380 * vg.Length(1)
)

// WriteChart draws a 2×2 PNG: deliveries/s and deliveries per broker
// CPU-second per throughput scenario (median, with min–max bars),
// latency percentiles at the fixed rate, and idle memory per client.
func WriteChart(path string, sums []Summary, targets []string, title string) error {
	var load []string
	for _, s := range sums {
		if s.Scenario.Kind == scenario.Throughput && (len(load) == 0 || load[len(load)-1] != s.Scenario.Name) {
			load = append(load, s.Scenario.Name)
		}
	}
	rate := func(s Summary) Stat { return scale(s.Rate, 1e-6) }
	perCPU := func(s Summary) Stat { return scale(s.PerCPU, 1e-6) }
	p1 := grouped(sums, targets, load, rate, "deliveries/s (millions), median and min–max")
	p2 := grouped(sums, targets, load, perCPU, "deliveries per broker CPU-second (millions)")
	p3 := latencyPlot(sums, targets)
	p4 := grouped(sums, targets, []string{"idle"}, func(s Summary) Stat { return scale(s.RSSPerClient, 1.0/1024) },
		"idle clients: broker RSS per client (KiB)")
	img := vgimg.New(2*tileW, 2*tileH+30)
	dc := draw.New(img)
	dc.FillPolygon(color.White, []vg.Point{{X: 0, Y: 0}, {X: 2 * tileW, Y: 0}, {X: 2 * tileW, Y: 2*tileH + 30}, {X: 0, Y: 2*tileH + 30}})
	sty := draw.TextStyle{Color: color.Black, Font: font.From(plot.DefaultFont, 14), Handler: plot.DefaultTextHandler}
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	dc.FillText(sty, vg.Point{X: tileW, Y: 2*tileH + 15}, title)
	body := draw.Crop(dc, 0, 0, 0, -30)
	tiles := draw.Tiles{Rows: 2, Cols: 2, PadX: 10, PadY: 10, PadTop: 5, PadBottom: 5, PadLeft: 5, PadRight: 5}
	canv := plot.Align([][]*plot.Plot{{p1, p2}, {p3, p4}}, tiles, body)
	p1.Draw(canv[0][0])
	p2.Draw(canv[0][1])
	p3.Draw(canv[1][0])
	p4.Draw(canv[1][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func scale(s Stat, k float64) Stat { return Stat{s.Med * k, s.Min * k, s.Max * k} }

// grouped is a bar chart with one group per category (scenario) and one
// bar per target, with min–max error bars.
func grouped(sums []Summary, targets, cats []string, get func(Summary) Stat, title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	if len(cats) == 0 {
		p.Title.Text += ": not run"
		p.HideAxes()
		return p
	}
	p.Legend.Top = true
	p.Y.Min = 0
	p.X.Min, p.X.Max = -0.5, float64(len(cats))-0.5
	k := float64(len(targets))
	groupW := 0.8
	// Bar width in points: the plot area is about 85 % of the tile.
	barW := vg.Length(float64(tileW) * 0.85 / float64(max(len(cats), 1)) * groupW / k * 0.9)
	top := 0.0
	for ti, t := range targets {
		vals := make(plotter.Values, len(cats))
		var errs plotter.YErrors
		var xys plotter.XYs
		any := false
		for ci, c := range cats {
			s, ok := find(sums, c, t)
			if !ok {
				errs = append(errs, struct{ Low, High float64 }{})
				xys = append(xys, plotter.XY{})
				continue
			}
			st := get(s)
			vals[ci] = st.Med
			top = max(top, st.Max)
			any = any || st.Med > 0
			x := float64(ci) - groupW/2 + groupW/k*(float64(ti)+0.5)
			xys = append(xys, plotter.XY{X: x, Y: st.Med})
			errs = append(errs, struct{ Low, High float64 }{st.Med - st.Min, st.Max - st.Med})
		}
		if !any {
			continue
		}
		bars, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			continue
		}
		bars.Color = colorOf(t)
		bars.LineStyle.Width = 0
		bars.XMin = -groupW/2 + groupW/k*(float64(ti)+0.5)
		p.Add(bars)
		p.Legend.Add(t, bars)
		if eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{xys, errs}); err == nil {
			eb.CapWidth = barW / 2
			p.Add(eb)
		}
	}
	if top > 0 {
		p.Y.Max = top * 1.3 // room for the legend above the bars
	}
	p.NominalX(cats...)
	return p
}

// latencyPlot groups p50, p99 and p99.9 at the fixed rate by target.
func latencyPlot(sums []Summary, targets []string) *plot.Plot {
	qs := []string{"p50", "p99", "p99.9"}
	var rows []Summary
	for _, t := range targets {
		if s, ok := find(sums, "latency", t); ok {
			rows = append(rows, s)
		}
	}
	// Re-key the latency summaries as three pseudo-scenarios so that
	// grouped can draw them.
	var pseudo []Summary
	for _, s := range rows {
		for i, q := range qs {
			c := s
			c.Scenario.Name = q
			c.Rate = []Stat{s.P50, s.P99, s.P999}[i]
			pseudo = append(pseudo, c)
		}
	}
	rate := 0
	for _, s := range rows {
		rate = s.Scenario.Rate
	}
	return grouped(pseudo, targets, qs, func(s Summary) Stat { return s.Rate },
		fmt.Sprintf("latency at %d msgs/s (µs), median and min–max", rate))
}
