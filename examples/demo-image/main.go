// Command demo-image writes the OCI image that `make demo` measures: a
// static program, a user database, a setuid file, a file capability and a
// second layer that deletes and replaces files, so that the demo exercises
// the layer semantics the measurement must get right. The image is built
// from scratch, offline, byte-for-byte reproducibly.
//
//	go run ./examples/demo-image --program PATH --out DIR [--tag NAME]
package main

import (
	_ "crypto/sha256" // go-digest needs the algorithm registered
	"flag"
	"fmt"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/refval/refval/internal/testimage"
)

func main() {
	program := flag.String("program", "", "static program to run as /bin/hello")
	out := flag.String("out", "", "OCI layout directory to write")
	tag := flag.String("tag", "demo", "tag of the image in the layout")
	flag.Parse()
	if *program == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: demo-image --program PATH --out DIR [--tag NAME]")
		os.Exit(2)
	}
	bin, err := os.ReadFile(*program)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-image:", err)
		os.Exit(1)
	}
	base := testimage.Layer{
		testimage.Dir("bin", 0o755),
		{Path: "bin/hello", Type: '0', Mode: 0o755, Content: bin},
		testimage.Dir("etc", 0o755),
		testimage.File("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/hello\napp:x:1000:1000:app:/home/app:/bin/hello\n"),
		testimage.File("etc/group", 0o644, "root:x:0:\napp:x:1000:\n"),
		testimage.File("etc/app.conf", 0o644, "mode=old\n"),
		testimage.File("etc/obsolete", 0o644, "deleted by the second layer\n"),
		{Path: "bin/ping", Type: '0', Mode: 0o755, Content: []byte("not really ping"),
			Xattrs: map[string]string{"security.capability": testimage.Capability(13)}},
		{Path: "bin/su", Type: '0', Mode: 0o4755, Content: []byte("not really su")},
		testimage.Dir("home", 0o755),
		{Path: "home/app", Type: '5', Mode: 0o700, UID: 1000, GID: 1000},
		testimage.Dir("tmp", 0o1777),
	}
	update := testimage.Layer{
		testimage.Whiteout("etc/obsolete"),
		testimage.File("etc/app.conf", 0o640, "mode=new\n"),
		testimage.Hardlink("bin/hello-again", "bin/hello"),
	}
	img := testimage.Image{
		Config: ocispec.ImageConfig{
			Entrypoint: []string{"/bin/hello"},
			Cmd:        []string{"world"},
			Env:        []string{"PATH=/bin", "VAL=default"},
			WorkingDir: "/",
		},
		Layers:   []testimage.Layer{base, update},
		Compress: true,
	}
	desc, err := testimage.WriteLayout(*out, *tag, img)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-image:", err)
		os.Exit(1)
	}
	fmt.Println(desc.Digest)
}
