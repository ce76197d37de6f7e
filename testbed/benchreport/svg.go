package benchreport

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"unicode/utf8"
)

// The charts are plain SVG 1.1 written by hand: a handful of lines, circles,
// rectangles and text, readable on GitHub and in any browser.

const (
	chartFont   = `font-family="sans-serif" font-size="12"`
	chartHeight = 360
	plotTop     = 48.0
	plotLeft    = 80.0
	plotRight   = 24.0
)

// palette is for the bars of a bar chart and the lines of a line chart.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}

// point is one x position of a chart: its label and the median and range
// of its value.
type point struct {
	x   string
	val Summary
}

type svgWriter struct{ bytes.Buffer }

func (w *svgWriter) printf(format string, args ...any) { fmt.Fprintf(&w.Buffer, format, args...) }

// text writes s at (x, y), escaped; attrs are extra attributes.
func (w *svgWriter) text(x, y float64, attrs, s string) {
	w.printf(`<text x="%.1f" y="%.1f" %s>`, x, y, attrs)
	_ = xml.EscapeText(&w.Buffer, []byte(s))
	w.printf("</text>\n")
}

func (w *svgWriter) open(width, height float64, title string) {
	w.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" %s>`+"\n", width, height, width, height, chartFont)
	w.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	w.text(width/2, 24, `text-anchor="middle" font-size="14" font-weight="bold"`, title)
}

// yAxis draws horizontal grid lines and their labels from 0 to top and
// the y axis's label; it returns the function mapping a value to y.
func (w *svgWriter) yAxis(left, right, bottom, top float64, label string, format func(float64) string) func(float64) float64 {
	step := niceStep(top / 5)
	top = math.Max(step, math.Ceil(top/step)*step)
	y := func(v float64) float64 { return bottom - (bottom-plotTop)*v/top }
	for v := 0.0; v <= top*(1+1e-9); v += step {
		w.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y(v), right, y(v))
		w.text(left-6, y(v)+4, `text-anchor="end"`, format(v))
	}
	w.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", left, bottom, right, bottom)
	w.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", left, plotTop, left, bottom)
	cy := (plotTop + bottom) / 2
	w.text(16, cy, fmt.Sprintf(`text-anchor="middle" transform="rotate(-90 16 %.1f)"`, cy), label)
	return y
}

// lineChart draws the medians of points as a line, left to right in the
// given order, with a whisker from each point's minimum to its maximum.
func lineChart(title, xLabel, yLabel string, points []point) []byte {
	const width = 640.0
	bottom := float64(chartHeight - 56)
	right := width - plotRight
	var w svgWriter
	w.open(width, chartHeight, title)
	top := 0.0
	for _, p := range points {
		top = math.Max(top, p.val.Max)
	}
	y := w.yAxis(plotLeft, right, bottom, top*1.1, yLabel, si)
	step := (right - plotLeft) / float64(len(points))
	x := func(i int) float64 { return plotLeft + step*(float64(i)+0.5) }
	w.printf(`<polyline fill="none" stroke="%s" stroke-width="2" points="`, palette[0])
	for i, p := range points {
		w.printf("%.1f,%.1f ", x(i), y(p.val.Median))
	}
	w.printf(`"/>` + "\n")
	for i, p := range points {
		w.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x(i), y(p.val.Min), x(i), y(p.val.Max), palette[0])
		for _, v := range []float64{p.val.Min, p.val.Max} {
			w.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x(i)-4, y(v), x(i)+4, y(v), palette[0])
		}
		w.printf(`<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>`, x(i), y(p.val.Median), palette[0])
		_ = xml.EscapeText(&w.Buffer, []byte(fmt.Sprintf("%s: %s", p.x, formatSummary(p.val, si))))
		w.printf("</title></circle>\n")
		w.text(x(i)+7, y(p.val.Median)-7, `font-size="11"`, si(p.val.Median))
		w.text(x(i), bottom+18, `text-anchor="middle"`, p.x)
	}
	w.text((plotLeft+right)/2, bottom+40, `text-anchor="middle"`, xLabel)
	w.printf("</svg>\n")
	return w.Bytes()
}

// barGroup is one benchmark of a bar chart: one bar per key.
type barGroup struct {
	label string
	vals  map[string]Summary
}

// barChart draws a group of horizontal bars per benchmark, labelled on the
// left (names are long), one bar per key in the order of keys with a
// legend, each bar labelled with its median.
func barChart(title, xLabel string, keys []string, groups []barGroup) []byte {
	const width, bar, gap, legendTop = 720.0, 14.0, 12.0, 40.0
	labelWidth := 0.0
	for _, g := range groups {
		labelWidth = math.Max(labelWidth, 6.5*float64(utf8.RuneCountInString(g.label)))
	}
	left := math.Min(labelWidth+16, width/2)
	right := width - 56 // room for the last bar's label
	top := legendTop + 20
	groupHeight := bar*float64(len(keys)) + gap
	bottom := top + groupHeight*float64(len(groups))
	var w svgWriter
	w.open(width, bottom+48, title)

	hi := 0.0
	for _, g := range groups {
		for _, s := range g.vals {
			hi = math.Max(hi, s.Median)
		}
	}
	step := niceStep(hi * 1.1 / 5)
	hi = math.Max(step, math.Ceil(hi*1.1/step)*step)
	x := func(v float64) float64 { return left + (right-left)*v/hi }
	for v := 0.0; v <= hi*(1+1e-9); v += step {
		w.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x(v), top, x(v), bottom)
		w.text(x(v), bottom+16, `text-anchor="middle"`, sig3(v))
	}
	w.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", left, top, left, bottom)
	w.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`+"\n", left, bottom, right, bottom)
	w.text((left+right)/2, bottom+36, `text-anchor="middle"`, xLabel)

	for i, k := range keys {
		lx := left + float64(i)*70
		w.printf(`<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s"/>`+"\n", lx, legendTop, palette[i%len(palette)])
		w.text(lx+14, legendTop+9, "", k)
	}
	for gi, g := range groups {
		y0 := top + gap/2 + groupHeight*float64(gi)
		w.text(left-8, y0+bar*float64(len(keys))/2+4, `text-anchor="end" font-size="11"`, g.label)
		for i, k := range keys {
			s, ok := g.vals[k]
			if !ok {
				continue
			}
			y := y0 + bar*float64(i)
			w.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>`, left, y, x(s.Median)-left, bar-2, palette[i%len(palette)])
			_ = xml.EscapeText(&w.Buffer, []byte(fmt.Sprintf("%s %s: %s", g.label, k, formatSummary(s, sig3))))
			w.printf("</title></rect>\n")
			w.text(x(s.Median)+4, y+bar-4, `font-size="10"`, sig3(s.Median))
		}
	}
	w.printf("</svg>\n")
	return w.Bytes()
}

// niceStep rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}
