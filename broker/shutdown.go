package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/kconn"
	"github.com/gregor-broker/gregor/zkpaths"
)

// Controlled shutdown, the broker side (reference §2.12; Kafka's
// KafkaServer.controlledShutdown). Before anything stops, the broker asks
// the controller to move its leaderships to other ISR members and to take
// it out of the ISRs it is in; clients then see a leader change instead of
// an outage, and acks=all producers do not wait for a replica that is
// going away.

// controlledShutdownVersion is the ControlledShutdown version sent (v3:
// flexible, with the broker epoch; what Kafka 2.4+ sends).
const controlledShutdownVersion = 3

// errRemainingPartitions means the controller answered but the broker
// still leads partitions with other replicas (no other ISR member could
// take over yet).
var errRemainingPartitions = errors.New("broker: partitions still led after controlled shutdown")

// controlledShutdown runs up to controlled.shutdown.max.retries attempts,
// controlled.shutdown.retry.backoff.ms apart, until the controller answers
// with no remaining partitions. It never fails the shutdown: after the last
// attempt the broker stops anyway, as Kafka's does.
func (b *Broker) controlledShutdown() {
	if !b.cfg.ControlledShutdownEnable {
		return
	}
	started := time.Now()
	err := retryControlledShutdown(b.cfg.ControlledShutdownMaxRetries, b.cfg.ControlledShutdownRetryBackoff,
		b.controlledShutdownOnce, time.Sleep, b.log)
	l := b.log.WithField("elapsed", time.Since(started).Round(time.Millisecond).String())
	if err != nil {
		l.WithError(err).Warn("controlled shutdown did not complete; shutting down anyway")
		return
	}
	l.Info("controlled shutdown succeeded")
}

// retryControlledShutdown is the retry loop of KafkaServer.controlledShutdown:
// attempt at most maxRetries times, sleeping backoff after each failed
// attempt but the last. It returns the last attempt's error.
func retryControlledShutdown(maxRetries int, backoff time.Duration, attempt func() error, sleep func(time.Duration), log *logrus.Entry) error {
	err := errors.New("controlled.shutdown.max.retries is 0")
	for remaining := maxRetries; remaining > 0; remaining-- {
		if err = attempt(); err == nil {
			return nil
		}
		log.WithError(err).WithField("retries_left", remaining-1).Warn("controlled shutdown attempt failed")
		if remaining > 1 {
			sleep(backoff)
		}
	}
	return err
}

// controlledShutdownOnce finds the controller in /controller, connects to
// its inter-broker listener and sends ControlledShutdown with this broker's
// epoch. Being the controller itself is no exception: the request goes
// through this broker's own listener to its event loop.
func (b *Broker) controlledShutdownOnce() error {
	id, ok, err := b.zk.GetControllerID()
	if err != nil {
		return fmt.Errorf("read /controller: %w", err)
	}
	if !ok {
		return errors.New("no controller")
	}
	data, _, err := b.zk.Get(zkpaths.BrokerIDPath(id))
	if err != nil {
		return fmt.Errorf("read registration of controller %d: %w", id, err)
	}
	info, err := zkpaths.DecodeBrokerInfo(id, data)
	if err != nil {
		return err
	}
	e, ok := info.Endpoint(b.cfg.InterBrokerListenerName)
	if !ok {
		return fmt.Errorf("controller %d has no %s endpoint", id, b.cfg.InterBrokerListenerName)
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.RequestTimeout)
	defer cancel()
	conn, err := kconn.Dial(ctx, e.Addr(), kconn.Options{
		ClientID:  fmt.Sprintf("broker-%d-controlled-shutdown", b.cfg.BrokerID),
		LocalHost: b.cfg.InterBrokerBindHost(),
		Timeout:   b.cfg.RequestTimeout,
	})
	if err != nil {
		return fmt.Errorf("connect to controller %d at %s: %w", id, e.Addr(), err)
	}
	defer conn.Close()
	req := kmsg.NewPtrControlledShutdownRequest()
	req.Version = controlledShutdownVersion
	req.BrokerID = b.cfg.BrokerID
	req.BrokerEpoch = b.brokerEpoch.Load()
	b.log.WithFields(logrus.Fields{"controller_id": id, "broker_epoch": req.BrokerEpoch}).Info("starting controlled shutdown")
	raw, err := conn.Request(req, 0)
	if err != nil {
		return fmt.Errorf("ControlledShutdown to controller %d: %w", id, err)
	}
	resp := raw.(*kmsg.ControlledShutdownResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("controller %d: %w", id, err)
	}
	if n := len(resp.PartitionsRemaining); n > 0 {
		first := resp.PartitionsRemaining[0]
		return fmt.Errorf("%w: %d, e.g. %s-%d", errRemainingPartitions, n, first.Topic, first.Partition)
	}
	return nil
}
