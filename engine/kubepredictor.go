package engine

import (
	"fmt"
	"io/fs"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// KubePredictor is a kubernetes prediction set up once (pod, container,
// node profile) and applied to images, like Predictor for containerd.
type KubePredictor struct {
	Pod       *KubePod
	Container string
	Node      *NodeProfile
}

// NewKubePredictor reads the Pod or workload file podFile and, when
// nodeProfile is not "", the node profile file.
func NewKubePredictor(podFile, container, nodeProfile string) (*KubePredictor, error) {
	b, err := os.ReadFile(podFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPod, err)
	}
	pod, err := ParseKubeObject(podFile, b)
	if err != nil {
		return nil, err
	}
	np := DefaultNodeProfile()
	p := &KubePredictor{Pod: pod, Container: container, Node: &np}
	if nodeProfile != "" {
		if p.Node, err = LoadNodeProfile(nodeProfile); err != nil {
			return nil, err
		}
	}
	if container != KubeSandbox {
		if _, _, err := findContainer(pod, container); err != nil {
			return nil, fmt.Errorf("%s: %w", podFile, err)
		}
	}
	return p, nil
}

// ContainerID is the container ID the configs are predicted for; measure
// them with bundle.WithContainerID(p.ContainerID()) and refval-v2. The
// sandbox's container ID is its sandbox ID.
func (p *KubePredictor) ContainerID() string {
	if p.Container == KubeSandbox {
		return KubeSandboxID
	}
	return KubeContainerID
}

// Config predicts the config.json for image whose root filesystem is
// rootfs (only etc/passwd and etc/group are read, as for Predictor); for
// the sandbox (Container KubeSandbox), image is the node's sandbox image.
func (p *KubePredictor) Config(image ocispec.Image, rootfs fs.FS) ([]byte, error) {
	return PredictKube(p.Pod, p.Container, image, rootfs, p.Node)
}
