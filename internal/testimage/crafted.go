package testimage

import (
	"archive/tar"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// NonUTF8Name is a file name that is not valid UTF-8 (used by Crafted).
const NonUTF8Name = "caf\xe9-\xff\xfe"

// CapNetRaw is the security.capability value Crafted gives to usr/bin/ping
// (cap_net_raw=ep, capability number 13).
var CapNetRaw = Capability(13)

// CraftedLayers returns three layers that exercise every rule an unpacker
// or a layer-applying measurement must get right. After applying them in
// order the tree is (owner 0:0 unless said, modes octal):
//
//	/                      (no entry in the layers: the unpacker's root)
//	bin/                   0755
//	bin/NonUTF8Name        0644 "not utf-8\n"
//	dev/                   0755
//	dev/null               char 1:3, 0666
//	dev/sda                block 8:0, 0660, gid 6
//	dev/pipe               fifo 0600
//	etc/                   0755
//	etc/abs                symlink -> /etc/passwd
//	etc/passwd             0644 "root:x:0:0::/root:/bin/sh\n"
//	hl                     0640 1000:1000 "target\n" + cap_net_raw (hardlink made in layer 0, target deleted in layer 2)
//	hl2                    0755 "ping\n" + cap_net_raw (hardlink in layer 1 to a layer-0 file)
//	opq/                   0755 (opaque in layer 1: a and sub/ hidden)
//	opq/c                  0644 "c\n"
//	replaced               dir 0700 (a file in layer 0)
//	replaced/child         0644 "child\n"
//	shared/                02775 0:50 (setgid; chmod'ed in layer 1 from 0755)
//	shared/keep            0644 "keep\n"
//	tmp/                   01777
//	tofile                 0600 "now a file\n" (a dir with a child in layer 0)
//	usr/ usr/bin/          0755
//	usr/bin/nobody         0644 65534:65534 ""
//	usr/bin/ping           0755 "ping\n" + cap_net_raw
//	usr/bin/su             04755 "su\n"
//	usr/bin/tool           0755 "tool v2\n" (replaced in layer 1)
//
// Deleted on the way: etc/alias (whiteout), gone/ with gone/inner/x
// (whiteout of a directory), link-target (whiteout after being hardlinked).
func CraftedLayers() []Layer {
	return []Layer{
		{
			Dir("bin", 0o755),
			File("bin/"+NonUTF8Name, 0o644, "not utf-8\n"),
			Dir("dev", 0o755),
			CharDev("dev/null", 0o666, 1, 3),
			BlockDev("dev/sda", 0o660, 8, 0).Owned(0, 6),
			Fifo("dev/pipe", 0o600),
			Dir("etc", 0o755),
			File("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\n"),
			Symlink("etc/alias", "passwd"),
			Symlink("etc/abs", "/etc/passwd"),
			Dir("gone", 0o755),
			Dir("gone/inner", 0o755),
			File("gone/inner/x", 0o644, "x\n"),
			File("link-target", 0o640, "target\n").Owned(1000, 1000).WithXattr("security.capability", CapNetRaw),
			Hardlink("hl", "link-target"),
			Dir("opq", 0o755),
			File("opq/a", 0o644, "a\n"),
			Dir("opq/sub", 0o755),
			File("opq/sub/b", 0o644, "b\n"),
			File("replaced", 0o644, "a file\n"),
			Dir("shared", 0o755),
			File("shared/keep", 0o644, "keep\n"),
			Dir("tmp", 0o1777),
			Dir("tofile", 0o755),
			File("tofile/child", 0o644, "child\n"),
			Dir("usr", 0o755),
			Dir("usr/bin", 0o755),
			File("usr/bin/ping", 0o755, "ping\n").WithXattr("security.capability", CapNetRaw),
			Entry{Path: "usr/bin/su", Type: tar.TypeReg, Mode: 0o4755, Content: []byte("su\n")},
			File("usr/bin/tool", 0o755, "tool v1\n"),
		},
		{
			Whiteout("etc/alias"),
			Whiteout("gone"),
			Hardlink("hl2", "usr/bin/ping"),
			Dir("opq", 0o755),
			Opaque("opq"),
			File("opq/c", 0o644, "c\n"),
			Dir("replaced", 0o700),
			File("replaced/child", 0o644, "child\n"),
			Dir("shared", 0o2775).Owned(0, 50),
			File("tofile", 0o600, "now a file\n"),
			File("usr/bin/tool", 0o755, "tool v2\n"),
		},
		{
			Whiteout("link-target"),
			File("usr/bin/nobody", 0o644, "").Owned(65534, 65534),
		},
	}
}

// Crafted returns an image made of CraftedLayers (gzip when compress).
func Crafted(compress bool) Image {
	return Image{
		Config: ocispec.ImageConfig{
			User:       "1000:1000",
			Env:        []string{"PATH=/usr/bin:/bin", "CRAFTED=1"},
			Entrypoint: []string{"/usr/bin/tool"},
			Cmd:        []string{"--flag"},
			WorkingDir: "/etc",
			Labels:     map[string]string{"org.example.test": "crafted"},
		},
		Layers:   CraftedLayers(),
		Compress: compress,
	}
}
