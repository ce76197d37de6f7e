// Command dashboardpng plots the panels of the chart's Grafana dashboard
// from scrapes of a real run into one PNG, for the chart README: a reader
// sees what the dashboard shows without running Grafana.
//
//	COURIER_DASHBOARD_SAMPLES=/tmp/samples.json go test -run TestDashboardAndAlertsMatchMetrics ./testbed/e2e/
//	go -C testbed/dashboardpng run . -samples /tmp/samples.json \
//	    -dashboard ../../distributions/otelcol-courier/helm/courier/dashboards/courier.json \
//	    -out ../../distributions/otelcol-courier/helm/courier/dashboards/courier.png
//
// It evaluates the small part of PromQL the dashboard uses: sum/max by
// (labels) over rate() of counters or over gauges, a quotient of two
// gauges, histogram_quantile over bucket rates, and label matchers with
// = and != (the $namespace and $pod variables match everything). It is a
// module of its own so that golang.org/x/image stays out of the
// distribution's module graph.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

type sample struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
}

type scrape struct {
	Time    time.Time `json:"time"`
	Samples []sample  `json:"samples"`
}

type target struct {
	Expr   string `json:"expr"`
	Legend string `json:"legendFormat"`
}

type panel struct {
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Targets []target `json:"targets"`
	Field   struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

// series is one plotted line.
type series struct {
	name   string
	points []float64 // one per scrape interval; NaN where unknown
}

var (
	metricRe  = regexp.MustCompile(`\b(courier_[a-z0-9_]+|otelcol_[a-z0-9_]+)\b(\{[^}]*\})?`)
	byRe      = regexp.MustCompile(`\bby\s*\(([^)]*)\)`)
	matcherRe = regexp.MustCompile(`([a-zA-Z_]+)\s*(=|!=)\s*"([^"]*)"`)
	quantRe   = regexp.MustCompile(`histogram_quantile\(\s*([0-9.]+)`)
	legendRe  = regexp.MustCompile(`\{\{\s*([a-zA-Z_]+)\s*\}\}`)
)

func main() {
	samplesPath := flag.String("samples", "", "scrapes written by the e2e test (COURIER_DASHBOARD_SAMPLES)")
	dashPath := flag.String("dashboard", "", "the dashboard JSON")
	out := flag.String("out", "courier.png", "PNG to write")
	flag.Parse()
	var scrapes []scrape
	readJSON(*samplesPath, &scrapes)
	var dash struct {
		Title  string  `json:"title"`
		Panels []panel `json:"panels"`
	}
	readJSON(*dashPath, &dash)
	if len(scrapes) < 3 {
		log.Fatalf("%s: %d scrapes, want at least 3", *samplesPath, len(scrapes))
	}

	var panels []panel
	for _, p := range dash.Panels {
		if p.Type == "timeseries" {
			panels = append(panels, p)
		}
	}
	const cols, pw, ph, margin = 3, 560, 300, 10
	rows := (len(panels) + cols - 1) / cols
	img := image.NewRGBA(image.Rect(0, 0, cols*(pw+margin)+margin, rows*(ph+margin)+margin+30))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{17, 18, 23, 255}}, image.Point{}, draw.Src)
	text(img, margin, 20, fmt.Sprintf("%s - %d panels from %d scrapes (%s) of the built binary under load",
		dash.Title, len(panels), len(scrapes), scrapes[len(scrapes)-1].Time.Sub(scrapes[0].Time).Round(time.Second)), color.White)
	for i, p := range panels {
		x, y := margin+(i%cols)*(pw+margin), 30+margin+(i/cols)*(ph+margin)
		var all []series
		for _, tg := range p.Targets {
			all = append(all, evaluate(tg, scrapes)...)
		}
		plot(img, image.Rect(x, y, x+pw, y+ph), p.Title, p.Field.Defaults.Unit, all)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s (%d panels)", *out, len(panels))
}

func readJSON(path string, v any) {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		log.Fatalf("%s: %v", path, err)
	}
}

// selector is one metric reference of an expression.
type selector struct {
	name     string
	matchers [][3]string
}

func (s selector) matches(smp sample) bool {
	if smp.Name != s.name {
		return false
	}
	for _, m := range s.matchers {
		v := smp.Labels[m[0]]
		if (m[1] == "=" && v != m[2]) || (m[1] == "!=" && v == m[2]) {
			return false
		}
	}
	return true
}

// evaluate turns one target into series over the scrapes.
func evaluate(tg target, scrapes []scrape) []series {
	var sels []selector
	for _, m := range metricRe.FindAllStringSubmatch(tg.Expr, -1) {
		s := selector{name: m[1]}
		for _, mm := range matcherRe.FindAllStringSubmatch(m[2], -1) {
			if mm[1] == "namespace" || mm[1] == "pod" {
				continue
			}
			s.matchers = append(s.matchers, [3]string{mm[1], mm[2], mm[3]})
		}
		sels = append(sels, s)
	}
	if len(sels) == 0 {
		return nil
	}
	var by []string
	if m := byRe.FindStringSubmatch(tg.Expr); m != nil {
		for _, l := range strings.Split(m[1], ",") {
			by = append(by, strings.TrimSpace(l))
		}
	}
	isRate := strings.Contains(tg.Expr, "rate(") || strings.Contains(tg.Expr, "increase(")
	useMax := strings.HasPrefix(strings.TrimSpace(tg.Expr), "max")
	n := len(scrapes)

	// groupAt sums (or maxes) the selector's samples by the by-labels at
	// scrape i; with rate, of the per-second increase since scrape i-1.
	groupAt := func(sel selector, i int, extra string) map[string]float64 {
		out := map[string]float64{}
		prev := map[string]float64{}
		if isRate && i > 0 {
			for _, smp := range scrapes[i-1].Samples {
				if sel.matches(smp) {
					prev[fullKey(smp)] = smp.Value
				}
			}
		}
		dt := 1.0
		if i > 0 {
			dt = scrapes[i].Time.Sub(scrapes[i-1].Time).Seconds()
		}
		for _, smp := range scrapes[i].Samples {
			if !sel.matches(smp) {
				continue
			}
			v := smp.Value
			if isRate {
				p, ok := prev[fullKey(smp)]
				if !ok || i == 0 {
					continue
				}
				v = math.Max(v-p, 0) / dt
			}
			k := groupKey(smp.Labels, by, extra)
			if cur, ok := out[k]; ok && useMax {
				out[k] = math.Max(cur, v)
			} else {
				out[k] += v
			}
		}
		return out
	}

	lines := map[string][]float64{}
	put := func(k string, i int, v float64) {
		if lines[k] == nil {
			lines[k] = make([]float64, n)
			for j := range lines[k] {
				lines[k][j] = math.NaN()
			}
		}
		lines[k][i] = v
	}
	switch {
	case quantRe.MatchString(tg.Expr):
		q, _ := strconv.ParseFloat(quantRe.FindStringSubmatch(tg.Expr)[1], 64)
		for i := 1; i < n; i++ {
			buckets := groupAt(sels[0], i, "le")
			byGroup := map[string]map[float64]float64{}
			for k, v := range buckets {
				g, le := splitLE(k)
				if byGroup[g] == nil {
					byGroup[g] = map[float64]float64{}
				}
				byGroup[g][le] += v
			}
			for g, b := range byGroup {
				if v, ok := quantile(q, b); ok {
					put(g, i, v)
				}
			}
		}
	case len(sels) == 2 && strings.Contains(tg.Expr, "/"):
		for i := range n {
			num, den := groupAt(sels[0], i, ""), groupAt(sels[1], i, "")
			for k, v := range num {
				if d := den[k]; d > 0 {
					put(k, i, v/d)
				}
			}
		}
	default:
		for i := range n {
			for _, sel := range sels {
				for k, v := range groupAt(sel, i, "") {
					put(k, i, v)
				}
			}
		}
	}
	var out []series
	for k, pts := range lines {
		out = append(out, series{name: legend(tg.Legend, k), points: pts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func fullKey(s sample) string {
	keys := make([]string, 0, len(s.Labels))
	for k, v := range s.Labels {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// groupKey is "l1=v1,l2=v2" of the by-labels (and extra).
func groupKey(labels map[string]string, by []string, extra string) string {
	var parts []string
	for _, l := range by {
		if l == "le" {
			continue
		}
		parts = append(parts, l+"="+labels[l])
	}
	if extra != "" {
		parts = append(parts, extra+"="+labels[extra])
	}
	return strings.Join(parts, ",")
}

func splitLE(k string) (string, float64) {
	i := strings.LastIndex(k, "le=")
	le := k[i+3:]
	v, err := strconv.ParseFloat(le, 64)
	if le == "+Inf" || err != nil {
		v = math.Inf(1)
	}
	return strings.TrimSuffix(k[:i], ","), v
}

// quantile is Prometheus's histogram_quantile over cumulative bucket rates.
func quantile(q float64, b map[float64]float64) (float64, bool) {
	les := make([]float64, 0, len(b))
	for le := range b {
		les = append(les, le)
	}
	sort.Float64s(les)
	total := b[math.Inf(1)]
	if total <= 0 {
		return 0, false
	}
	rank := q * total
	prevLE, prevCount := 0.0, 0.0
	for _, le := range les {
		if b[le] >= rank {
			if math.IsInf(le, 1) {
				return prevLE, true
			}
			if b[le] == prevCount {
				return le, true
			}
			return prevLE + (le-prevLE)*(rank-prevCount)/(b[le]-prevCount), true
		}
		prevLE, prevCount = le, b[le]
	}
	return prevLE, true
}

func legend(format, key string) string {
	labels := map[string]string{}
	for _, kv := range strings.Split(key, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			labels[k] = v
		}
	}
	s := legendRe.ReplaceAllStringFunc(format, func(m string) string {
		return labels[legendRe.FindStringSubmatch(m)[1]]
	})
	return strings.Join(strings.Fields(s), " ")
}

var palette = []color.RGBA{
	{115, 191, 105, 255}, {242, 204, 12, 255}, {87, 148, 242, 255}, {255, 120, 10, 255},
	{242, 73, 92, 255}, {184, 119, 217, 255}, {50, 200, 200, 255}, {200, 200, 200, 255},
}

// plot draws one panel: title, the lines, the y range and a legend.
func plot(img *image.RGBA, r image.Rectangle, title, unit string, all []series) {
	draw.Draw(img, r, &image.Uniform{color.RGBA{24, 27, 31, 255}}, image.Point{}, draw.Src)
	text(img, r.Min.X+8, r.Min.Y+16, title, color.White)
	legendRows := min(len(all), 5)
	area := image.Rect(r.Min.X+60, r.Min.Y+26, r.Max.X-10, r.Max.Y-12-legendRows*14)
	lo, hi := 0.0, math.Inf(-1)
	n := 0
	for _, s := range all {
		n = max(n, len(s.points))
		for _, v := range s.points {
			if !math.IsNaN(v) {
				hi = math.Max(hi, v)
				lo = math.Min(lo, v)
			}
		}
	}
	if len(all) == 0 || math.IsInf(hi, -1) {
		text(img, area.Min.X+10, area.Min.Y+40, "no data in this run", color.RGBA{150, 150, 150, 255})
		return
	}
	if hi <= lo {
		hi = lo + 1
	}
	grid := color.RGBA{50, 54, 60, 255}
	for i := 0; i <= 4; i++ {
		y := area.Max.Y - i*area.Dy()/4
		for x := area.Min.X; x < area.Max.X; x++ {
			img.Set(x, y, grid)
		}
		text(img, r.Min.X+4, y+4, format(lo+(hi-lo)*float64(i)/4, unit), color.RGBA{160, 160, 160, 255})
	}
	for si, s := range all {
		c := palette[si%len(palette)]
		px, py := -1, -1
		for i, v := range s.points {
			if math.IsNaN(v) {
				px = -1
				continue
			}
			x := area.Min.X + i*area.Dx()/max(n-1, 1)
			y := area.Max.Y - int(float64(area.Dy())*(v-lo)/(hi-lo))
			if px >= 0 {
				line(img, px, py, x, y, c)
			}
			px, py = x, y
		}
		if si < legendRows {
			ly := area.Max.Y + 14 + si*14
			for x := 0; x < 12; x++ {
				img.Set(area.Min.X+x, ly-4, c)
				img.Set(area.Min.X+x, ly-5, c)
			}
			name := s.name
			if len(name) > 70 {
				name = name[:67] + "..."
			}
			text(img, area.Min.X+16, ly, name, color.RGBA{210, 210, 210, 255})
		}
	}
	if len(all) > legendRows {
		text(img, area.Max.X-80, area.Max.Y+14, fmt.Sprintf("+%d more", len(all)-legendRows), color.RGBA{160, 160, 160, 255})
	}
}

func format(v float64, unit string) string {
	switch unit {
	case "percentunit":
		return fmt.Sprintf("%.0f%%", v*100)
	case "s":
		if v < 1 {
			return fmt.Sprintf("%.0fms", v*1000)
		}
		return fmt.Sprintf("%.1fs", v)
	case "Bps":
		return fmt.Sprintf("%.0fk", v/1000)
	}
	if math.Abs(v) >= 1000 {
		return fmt.Sprintf("%.1fk", v/1000)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)[:min(len(strconv.FormatFloat(v, 'f', -1, 64)), 6)]
}

func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	err := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * err
		if e2 >= dy {
			err += dy
			x0 += sx
		}
		if e2 <= dx {
			err += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
