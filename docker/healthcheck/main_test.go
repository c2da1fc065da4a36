package main

import (
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestListenerAddress(t *testing.T) {
	tests := []struct {
		listeners string
		want      string
		wantErr   bool
	}{
		{"INTERNAL://:29092,EXTERNAL://:9092", "127.0.0.1:29092", false},
		{"PLAINTEXT://0.0.0.0:9092", "127.0.0.1:9092", false},
		{"PLAINTEXT://[::]:9092", "127.0.0.1:9092", false},
		{"PLAINTEXT://broker1:9093", "broker1:9093", false},
		{"PLAINTEXT://[::1]:9093", "[::1]:9093", false},
		{"", "127.0.0.1:9092", false},
		{"broker1:9092", "", true},
	}
	for _, tt := range tests {
		got, err := listenerAddress(tt.listeners)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("listenerAddress(%q) = %q, %v; want %q, error %v", tt.listeners, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestCheckFailsWithoutBroker: a closed port and a listener that never
// answers are both unhealthy.
func TestCheckFailsWithoutBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go func() { // accept and say nothing
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	if err := check(addr, 300*time.Millisecond); err == nil {
		t.Error("check against a silent listener succeeded")
	}
	ln.Close()
	if err := check(addr, 300*time.Millisecond); err == nil {
		t.Error("check against a closed port succeeded")
	}
}

// TestCheckAgainstKafkaServer: a real Kafka-protocol server (franz-go's
// kfake) answers ApiVersions, so the check passes.
func TestCheckAgainstKafkaServer(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := check(c.ListenAddrs()[0], 5*time.Second); err != nil {
		t.Errorf("check against kfake: %v", err)
	}
}
