package handlers

import (
	"context"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-broker/gregor/broker/server"
)

// DescribeLogDirs (key 35): v0–4.
//
// Behaviour: one entry per log.dirs directory (also when it holds no log),
// with the size of each partition's log and its offset lag (0 for a current
// replica unless its log end is behind the high watermark); Topics null
// describes every log, else only the partitions named. v4: the file
// system's total and usable bytes (-1 when unknown).
//
// Not implemented: future replicas (AlterReplicaLogDirs), offline dirs
// (KAFKA_STORAGE_ERROR per dir).
//
// Kafka: KafkaApis.handleDescribeLogDirsRequest, ReplicaManager.describeLogDirs.
func (h *Handlers) handleDescribeLogDirs(_ context.Context, r *server.Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	var want map[string]map[int32]bool
	if req.Topics != nil {
		want = map[string]map[int32]bool{}
		for _, t := range req.Topics {
			if want[t.Topic] == nil {
				want[t.Topic] = map[int32]bool{}
			}
			for _, p := range t.Partitions {
				want[t.Topic][p] = true
			}
		}
	}
	byDir := map[string]map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
	var dirs []string
	for _, d := range h.Config.LogDirs {
		dirs = append(dirs, filepath.Clean(d))
	}
	for _, li := range h.Replicas.LogInfos() {
		if want != nil && !want[li.Topic][li.Partition] {
			continue
		}
		if byDir[li.Dir] == nil {
			byDir[li.Dir] = map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
			if !containsString(dirs, li.Dir) {
				dirs = append(dirs, li.Dir)
			}
		}
		p := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		p.Partition, p.Size, p.OffsetLag = li.Partition, li.Size, li.OffsetLag
		byDir[li.Dir][li.Topic] = append(byDir[li.Dir][li.Topic], p)
	}
	for _, dir := range dirs {
		d := kmsg.NewDescribeLogDirsResponseDir()
		d.Dir = dir
		d.TotalBytes, d.UsableBytes = diskSpace(dir)
		topics := make([]string, 0, len(byDir[dir]))
		for t := range byDir[dir] {
			topics = append(topics, t)
		}
		sort.Strings(topics)
		for _, t := range topics {
			dt := kmsg.NewDescribeLogDirsResponseDirTopic()
			dt.Topic, dt.Partitions = t, byDir[dir][t]
			d.Topics = append(d.Topics, dt)
		}
		resp.Dirs = append(resp.Dirs, d)
	}
	return resp, nil
}

// diskSpace is the file system's size and the bytes available to the
// broker, -1 each when statfs fails.
func diskSpace(dir string) (total, usable int64) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1, -1
	}
	return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
