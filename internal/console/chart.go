package console

import (
	"fmt"
	"time"

	"github.com/kcred/kcred/internal/lifecycle"
)

// chartAhead is how many months ahead the expiry chart of a project looks:
// 27 months is a little more than the default validity of 820 days, so
// that a certificate issued today shows. The chart has a bar for the
// current month and one for each of the chartAhead months after it.
const (
	chartAhead  = 27
	chartMonths = chartAhead + 1
)

// Geometry of the chart's SVG, in its own units; it scales to its box.
const (
	chartSlot   = 30.0
	chartBarW   = 20.0
	chartLeft   = 34.0
	chartRight  = 8.0
	chartTop    = 18.0
	chartBottom = 38.0
	chartPlotH  = 150.0
)

// expiryChart is a bar chart of certificate expiries by month, drawn on the
// server as SVG: no script and no library.
type expiryChart struct {
	Width, Height float64
	PlotBottom    float64
	PlotRight     float64
	Bars          []chartBar
	Ticks         []chartTick
	Total         int // expiries within the chart's months
	Old           int // of which old certificates awaiting acknowledgement
	Later         int // expiries after the last month
	Summary       string
}

type chartBar struct {
	X, Width, LabelX        float64
	Current, Old, Count     int
	YCur, HCur, YOld, HOld  float64
	CountY                  float64
	MonthLabelY, YearLabelY float64
	Month, Year, Title      string
	ShowYear, HasCount      bool
	Highlight               bool // the current month
}

type chartTick struct {
	Y     float64
	Value int
}

// newExpiryChart counts, for the current month and each of the next
// chartAhead months, the current certificate of every user that expires in
// it, and the old certificate of every user whose renewal waits for
// acknowledgement.
func newExpiryChart(services []*lifecycle.ServiceView, now time.Time) *expiryChart {
	now = now.UTC()
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	cur := make([]int, chartMonths)
	old := make([]int, chartMonths)
	c := &expiryChart{}
	add := func(t time.Time, counts []int) {
		t = t.UTC()
		i := (t.Year()-start.Year())*12 + int(t.Month()) - int(start.Month())
		switch {
		case i < 0:
			// already expired: the users table says so
		case i >= chartMonths:
			c.Later++
		default:
			counts[i]++
			c.Total++
		}
	}
	for _, s := range services {
		for _, u := range s.Users {
			add(u.Current.NotAfter, cur)
			if u.Pending() {
				add(u.Renewal.OldNotAfter, old)
			}
		}
	}
	highest := 0
	for i := range cur {
		c.Old += old[i]
		highest = max(highest, cur[i]+old[i])
	}
	step, top := niceScale(highest)
	scale := chartPlotH / float64(top)
	c.PlotBottom = chartTop + chartPlotH
	c.PlotRight = chartLeft + chartMonths*chartSlot
	c.Width = c.PlotRight + chartRight
	c.Height = c.PlotBottom + chartBottom
	for v := 0; v <= top; v += step {
		c.Ticks = append(c.Ticks, chartTick{Y: c.PlotBottom - float64(v)*scale, Value: v})
	}
	for i := range chartMonths {
		m := start.AddDate(0, i, 0)
		x := chartLeft + float64(i)*chartSlot + (chartSlot-chartBarW)/2
		b := chartBar{
			X: x, Width: chartBarW, LabelX: x + chartBarW/2,
			Current: cur[i], Old: old[i], Count: cur[i] + old[i],
			Month: m.Format("Jan"), Year: m.Format("2006"),
			ShowYear:  i == 0 || m.Month() == time.January,
			Highlight: i == 0,
		}
		b.HCur = float64(cur[i]) * scale
		b.YCur = c.PlotBottom - b.HCur
		b.HOld = float64(old[i]) * scale
		b.YOld = b.YCur - b.HOld
		b.HasCount = b.Count > 0
		b.CountY = b.YOld - 4
		b.MonthLabelY = c.PlotBottom + 15
		b.YearLabelY = c.PlotBottom + 30
		b.Title = fmt.Sprintf("%s: %s", m.Format("January 2006"), plural(b.Count, "certificate expires", "certificates expire"))
		if old[i] > 0 {
			b.Title += fmt.Sprintf(" (%d renewed, waiting for acknowledgement)", old[i])
		}
		c.Bars = append(c.Bars, b)
	}
	c.Summary = fmt.Sprintf("Certificate expiries by month from %s to %s: %s in total.",
		start.Format("January 2006"), start.AddDate(0, chartMonths-1, 0).Format("January 2006"),
		plural(c.Total, "certificate", "certificates"))
	return c
}

// niceScale returns the step between grid lines and the top of the axis
// for a largest value of max: about four lines at 1, 2 or 5 times a power
// of ten.
func niceScale(highest int) (step, top int) {
	if highest <= 4 {
		return 1, 4
	}
	raw := (highest + 3) / 4
	mag := 1
	for mag*10 <= raw {
		mag *= 10
	}
	for _, f := range []int{1, 2, 5, 10} {
		if f*mag >= raw {
			step = f * mag
			break
		}
	}
	top = step * ((highest + step - 1) / step)
	return step, top
}
