package coordinator

import (
	"reflect"
	"testing"
)

func TestOfflinePartitionLeader(t *testing.T) {
	tests := []struct {
		name                  string
		assignment, isr, live []int32
		unclean               bool
		leader                int32
		uncleanElected, ok    bool
		newISR                []int32
	}{
		{"first live ISR member in assignment order", []int32{1, 2, 3}, []int32{3, 2}, []int32{2, 3}, false, 2, false, true, []int32{3, 2}},
		{"dead ISR members dropped", []int32{1, 2, 3}, []int32{1, 2, 3}, []int32{2, 3}, false, 2, false, true, []int32{2, 3}},
		{"assignment order wins over ISR order", []int32{3, 1, 2}, []int32{1, 2, 3}, []int32{1, 2, 3}, false, 3, false, true, []int32{1, 2, 3}},
		{"no live ISR, clean", []int32{1, 2}, []int32{1}, []int32{2}, false, -1, false, false, nil},
		{"no live ISR, unclean", []int32{1, 2, 3}, []int32{1}, []int32{3, 2}, true, 2, true, true, []int32{2}},
		{"unclean allowed but ISR member live", []int32{1, 2}, []int32{2}, []int32{1, 2}, true, 2, false, true, []int32{2}},
		{"nothing live", []int32{1, 2}, []int32{1, 2}, nil, true, -1, false, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leader, unclean, ok := offlinePartitionLeader(tt.assignment, tt.isr, tt.live, tt.unclean)
			if leader != tt.leader || unclean != tt.uncleanElected || ok != tt.ok {
				t.Fatalf("got (%d, %v, %v) want (%d, %v, %v)", leader, unclean, ok, tt.leader, tt.uncleanElected, tt.ok)
			}
			if ok {
				if isr := offlinePartitionISR(tt.isr, tt.live, leader, unclean); !reflect.DeepEqual(isr, tt.newISR) {
					t.Errorf("isr %v want %v", isr, tt.newISR)
				}
			}
		})
	}
}

func TestInitialLeaderAndISR(t *testing.T) {
	tests := []struct {
		name             string
		assignment, live []int32
		leader           int32
		isr              []int32
		ok               bool
	}{
		{"all live", []int32{2, 3, 1}, []int32{1, 2, 3}, 2, []int32{2, 3, 1}, true},
		{"first dead", []int32{2, 3, 1}, []int32{1, 3}, 3, []int32{3, 1}, true},
		{"none live", []int32{2}, []int32{1}, -1, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leader, isr, ok := initialLeaderAndISR(tt.assignment, tt.live)
			if leader != tt.leader || !reflect.DeepEqual(isr, tt.isr) || ok != tt.ok {
				t.Fatalf("got (%d, %v, %v)", leader, isr, ok)
			}
		})
	}
}

func TestRemoveReplicasFromISR(t *testing.T) {
	tests := []struct {
		name      string
		leader    int32
		isr, dead []int32
		newLeader int32
		newISR    []int32
		changed   bool
	}{
		{"follower leaves", 1, []int32{1, 2, 3}, []int32{2}, 1, []int32{1, 3}, true},
		{"leader leaves", 1, []int32{1, 2}, []int32{1}, -1, []int32{2}, true},
		{"last member stays", 1, []int32{1}, []int32{1}, -1, []int32{1}, true},
		{"all leave, last kept", 1, []int32{1, 2}, []int32{1, 2}, -1, []int32{2}, true},
		{"not in ISR", 1, []int32{1}, []int32{3}, 1, []int32{1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, isr, ch := removeReplicasFromISR(tt.leader, tt.isr, tt.dead)
			if l != tt.newLeader || !reflect.DeepEqual(isr, tt.newISR) || ch != tt.changed {
				t.Fatalf("got (%d, %v, %v)", l, isr, ch)
			}
		})
	}
}
