package sqlstore

import (
	"slices"
	"testing"
)

// TestDORABucketsKeepBands: every bucket holds values of one DORA band,
// and buckets ascend with their values, around each band's edge.
func TestDORABucketsKeepBands(t *testing.T) {
	band := map[int64]int64{}
	last := int64(-1)
	for _, e := range doraEdges {
		for ms := e - 2000; ms <= e+2000; ms++ {
			b := doraBucket(ms)
			if b < last {
				t.Fatalf("bucket of %d ms (%d) below the previous value's (%d)", ms, b, last)
			}
			last = b
			if seen, ok := band[b]; ok && seen != doraBand(ms) {
				t.Fatalf("bucket %d holds %d ms (band %d) and values of band %d", b, ms, doraBand(ms), seen)
			}
			band[b] = doraBand(ms)
		}
		if doraBucket(e-1) == doraBucket(e) {
			t.Errorf("edge %d ms shares its bucket with the millisecond before", e)
		}
	}
}

// TestDORABucketListValues: lists and the overall row's array give the
// same values, ascending, the buckets' means, buckets beyond the array
// included.
func TestDORABucketListValues(t *testing.T) {
	values := []int64{0, 5, 1_000_000, 1_000_002, 3_599_999, 3_600_000, 86_400_000, 500_000_000_000, 7, 400_000_000_000}
	if doraBucket(1_000_000) != doraBucket(1_000_002) {
		t.Fatal("1,000,000 and 1,000,002 ms in two buckets: pick two of one")
	}
	h := doraHist{}
	for _, v := range values {
		h = addBuckets(h, one(v), 1)
	}
	enc := encodeDORAHist(h)
	want := []int64{0, 5, 7, 1_000_001, 1_000_001, 3_599_999, 3_600_000, 86_400_000, 400_000_000_000, 500_000_000_000}
	for _, dense := range []bool{false, true} {
		l := bucketList{dense: dense}
		if err := l.add(enc, 1); err != nil {
			t.Fatal(err)
		}
		if err := l.add(enc, 1); err != nil {
			t.Fatal(err)
		}
		if err := l.add(enc, -1); err != nil {
			t.Fatal(err)
		}
		if got := l.values(new([]int64)); !slices.Equal(got, want) {
			t.Errorf("dense %v: values %v, want %v", dense, got, want)
		}
	}
}
