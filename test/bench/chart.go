package bench

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// chartFile names the chart of one pin mode; format is svg or png.
func chartFile(pinned bool, format string) string {
	return "throughput-" + pinName(pinned) + "." + format
}

// writeCharts draws GB/s (median, with min–max error bars) against block
// size, one line per method, one chart per pin mode.
func (res *Results) writeCharts(dir string) error {
	for _, pinned := range res.Setup.Pins {
		p, legend, err := res.chart(pinned)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, chartFile(pinned, res.Setup.Chart))
		if err := save(p, legend, res.Setup.Chart, path); err != nil {
			return fmt.Errorf("save chart %s: %w", path, err)
		}
	}
	return nil
}

// log2Ticks labels the block-size axis 1K, 2K, … at powers of two.
type log2Ticks struct{}

func (log2Ticks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(lo); e <= math.Ceil(hi); e++ {
		ts = append(ts, plot.Tick{Value: e, Label: sizeName(int(math.Exp2(e)))})
	}
	return ts
}

// save draws the plot with its legend in a column on the right, where it
// cannot hide a line.
func save(p *plot.Plot, legend plot.Legend, format, path string) error {
	const w, h, legendW = 11 * vg.Inch, 6.5 * vg.Inch, 1.9 * vg.Inch
	var c vg.CanvasWriterTo
	if format == "png" {
		c = vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
	} else {
		c = vgsvg.New(w, h)
	}
	dc := draw.New(c)
	p.Draw(draw.Crop(dc, 0, -legendW, 0, 0))
	legend.Draw(draw.Crop(dc, w-legendW+vg.Points(8), 0, 0, -vg.Points(30)))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (res *Results) chart(pinned bool) (*plot.Plot, plot.Legend, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("dd → method → dd, %s (%s preset, median of %d rounds, bars min–max)",
		pinName(pinned), res.Preset, res.Setup.Rounds)
	p.X.Label.Text = "block size (dd bs)"
	p.Y.Label.Text = "GB/s"
	p.X.Tick.Marker = log2Ticks{}
	p.Y.Min = 0
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	p.Add(plotter.NewGrid())

	for i, m := range res.Methods {
		var pts plotter.XYs
		var errs plotter.YErrors
		for _, c := range res.Cells {
			if c.Method != m.Name || c.Pinned != pinned || !c.GBps.Valid() {
				continue
			}
			pts = append(pts, plotter.XY{X: math.Log2(float64(c.Block)), Y: c.GBps.Median})
			errs = append(errs, struct{ Low, High float64 }{c.GBps.Median - c.GBps.Min, c.GBps.Max - c.GBps.Median})
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, legend, fmt.Errorf("chart %s: %w", m.Name, err)
		}
		col, glyph := seriesStyle(i)
		line.Color, points.Color = col, col
		line.Width = vg.Points(1.2)
		points.Shape = glyph
		switch m.Role {
		case Pipeloop:
			line.Width = vg.Points(2.5)
		case Baseline:
			line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{pts, errs})
		if err != nil {
			return nil, legend, fmt.Errorf("chart %s: %w", m.Name, err)
		}
		bars.Color = col
		p.Add(line, points, bars)
		legend.Add(m.Name, line, points)
	}
	return p, legend, nil
}

// seriesStyle returns the colour and glyph of series i: 16 colours that
// stay apart on white (Tableau 10 and six darker ones), 8 glyphs.
func seriesStyle(i int) (color.Color, draw.GlyphDrawer) {
	palette := [...]uint32{
		0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f,
		0xbcbd22, 0x17becf, 0x393b79, 0x637939, 0x8c6d31, 0x843c39, 0x7b4173, 0x000000,
	}
	shapes := [...]draw.GlyphDrawer{
		draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{},
		draw.PlusGlyph{}, draw.RingGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{},
	}
	v := palette[i%len(palette)]
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}, shapes[i%len(shapes)]
}
