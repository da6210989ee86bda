package jobs

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestRiverLogsWarningsUnlessDebug(t *testing.T) {
	for _, tc := range []struct {
		level    slog.Level
		wantInfo bool
	}{{slog.LevelInfo, false}, {slog.LevelWarn, false}, {slog.LevelDebug, true}} {
		var buf bytes.Buffer
		base := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level})
		log := slog.New(atLeast{slog.LevelWarn, base}).With("component", "river")
		log.Info("Producer job counts")
		log.Warn("something is wrong")
		out := buf.String()
		if strings.Contains(out, "Producer job counts") != tc.wantInfo {
			t.Errorf("at %s:\n%s", tc.level, out)
		}
		if !strings.Contains(out, "something is wrong") {
			t.Errorf("at %s the warning is lost:\n%s", tc.level, out)
		}
	}
}
