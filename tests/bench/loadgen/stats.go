package main

import (
	"math"
	"slices"
	"time"
)

// pct is the p-th percentile (nearest rank) of d in milliseconds; 0 when d is empty.
func pct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[rank(len(s), p)]) / float64(time.Millisecond)
}

// pctInt is the p-th percentile (nearest rank) of v; 0 when v is empty.
func pctInt(v []int64, p float64) int64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[rank(len(s), p)]
}

func rank(n int, p float64) int {
	i := int(math.Ceil(p/100*float64(n))) - 1
	return min(max(i, 0), n-1)
}
