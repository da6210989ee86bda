package lifecycle

// SetSweepSizes sets the sweep's batch and round for a test and returns
// what puts them back.
func SetSweepSizes(batch, round int) (restore func()) {
	b, r := sweepBatch, sweepRound
	sweepBatch, sweepRound = batch, round
	return func() { sweepBatch, sweepRound = b, r }
}
