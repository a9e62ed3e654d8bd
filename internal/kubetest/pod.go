package kubetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Pod is one start of a static pod as CRI reports it.
type Pod struct {
	Name      string // <manifest name>-<NodeName>
	UID       string
	SandboxID string
	// Containers maps container names (init and app) to the ID of their
	// latest attempt.
	Containers map[string]string
}

// RunStaticPod writes manifest (a Pod's YAML) as the static pod file name
// and waits until the kubelet has started it: its sandbox is ready and
// every container in want has been created and is running or has exited
// with status 0.
func (k *Kubelet) RunStaticPod(name string, manifest []byte, want ...string) *Pod {
	k.t.Helper()
	// Write then rename: the kubelet must never read half a file. Names
	// starting with '.' are ignored by the kubelet's file source.
	tmp := filepath.Join(k.ManifestDir, "."+name+".yaml")
	if err := os.WriteFile(tmp, manifest, 0o644); err != nil {
		k.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(k.ManifestDir, name+".yaml")); err != nil {
		k.t.Fatal(err)
	}
	podName := name + "-" + NodeName
	deadline := time.Now().Add(3 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-k.exited:
			k.t.Fatalf("kubetest: kubelet exited while starting %s:\n%s", podName, k.LogTail(40))
		default:
		}
		p, status, err := k.pod(podName, want)
		if err != nil {
			k.t.Fatalf("kubetest: pod %s: %v", podName, err)
		}
		if p != nil {
			return p
		}
		last = status
		time.Sleep(250 * time.Millisecond)
	}
	k.t.Fatalf("kubetest: pod %s not started (%s):\n%s\ncontainerd:\n%s", podName, last, k.LogTail(40), k.C.LogTail(20))
	return nil
}

// pod returns the started pod, or nil and what it waits for; an error
// when a wanted container failed.
func (k *Kubelet) pod(podName string, want []string) (*Pod, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := k.CRI.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		State:         &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY},
		LabelSelector: map[string]string{"io.kubernetes.pod.name": podName},
	}})
	if err != nil {
		return nil, "", err
	}
	if len(r.Items) == 0 {
		return nil, "no ready sandbox", nil
	}
	if len(r.Items) > 1 {
		return nil, "", fmt.Errorf("%d ready sandboxes", len(r.Items))
	}
	sb := r.Items[0]
	cr, err := k.CRI.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: sb.Id}})
	if err != nil {
		return nil, "", err
	}
	p := &Pod{Name: podName, UID: sb.Metadata.Uid, SandboxID: sb.Id, Containers: map[string]string{}}
	attempt := map[string]uint32{}
	state := map[string]runtimeapi.ContainerState{}
	for _, c := range cr.Containers {
		n := c.Metadata.Name
		if _, seen := p.Containers[n]; !seen || c.Metadata.Attempt >= attempt[n] {
			p.Containers[n], attempt[n], state[n] = c.Id, c.Metadata.Attempt, c.State
		}
	}
	for _, n := range want {
		id, ok := p.Containers[n]
		if !ok {
			return nil, "container " + n + " not created", nil
		}
		switch state[n] {
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
		case runtimeapi.ContainerState_CONTAINER_EXITED:
			st, err := k.CRI.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
			if err != nil {
				return nil, "", err
			}
			if st.Status.ExitCode != 0 {
				return nil, "", fmt.Errorf("container %s exited %d: %s", n, st.Status.ExitCode, st.Status.Message)
			}
		default:
			return nil, "container " + n + " " + state[n].String(), nil
		}
	}
	return p, "", nil
}

// RemoveStaticPod deletes the static pod file name and waits until the
// kubelet has stopped the pod's sandbox and removed it.
func (k *Kubelet) RemoveStaticPod(name string) {
	k.t.Helper()
	if err := os.Remove(filepath.Join(k.ManifestDir, name+".yaml")); err != nil {
		k.t.Fatal(err)
	}
	podName := name + "-" + NodeName
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err := k.CRI.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
			LabelSelector: map[string]string{"io.kubernetes.pod.name": podName}}})
		cancel()
		if err != nil {
			k.t.Fatal(err)
		}
		if !slices.ContainsFunc(r.Items, func(s *runtimeapi.PodSandbox) bool { return s.State == runtimeapi.PodSandboxState_SANDBOX_READY }) {
			// Stopped; remove what the kubelet's GC would remove later,
			// so that the next start of the same pod begins clean.
			for _, s := range r.Items {
				k.CRI.RemovePodSandbox(context.Background(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: s.Id})
			}
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	k.t.Fatalf("kubetest: pod %s not stopped:\n%s", podName, k.LogTail(30))
}
