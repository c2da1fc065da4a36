package zktest

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func TestEnsembleSurvivesOneStop(t *testing.T) {
	c := Start(t, 3)
	conn, _, err := zk.Connect(c.Addrs(), 15*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/probe", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create: %v", err)
	}
	c.StopServer(0)
	if err := c.StartServer(0); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitServing(0, 120*time.Second); err != nil {
		t.Fatal(err)
	}
	data, _, err := conn.Get("/probe")
	if err != nil || string(data) != "x" {
		t.Fatalf("get after restart: %q %v", data, err)
	}
}
