package testimage

// CapabilityV3 returns a version-3 security.capability value with the
// given root ID (granting caps as Capability does).
func CapabilityV3(rootID uint32, caps ...uint) string {
	v2 := []byte(Capability(caps...))
	v2[3] = 0x03 // revision 3 (little-endian magic, high byte)
	return string(append(v2, byte(rootID), byte(rootID>>8), byte(rootID>>16), byte(rootID>>24)))
}

// EdgeCases returns layer sequences for every rule of umoci's extraction
// that a measurement must reproduce (oci/layerfs documents the rules): the
// crafted layers, root entries, parents through symlinks, implicit
// parents, type changes, same-layer whiteouts, hardlinks, large device
// numbers, wide IDs, capabilities (v2, v3, empty, cleared) and names.
func EdgeCases() map[string][]Layer {
	return map[string][]Layer{
		"crafted": CraftedLayers(),
		"root entry": {{
			Dir("./", 0o700).Owned(5, 6).WithXattr("security.capability", CapNetRaw),
			File("x", 0o644, "x"),
		}, {
			Dir("/", 0o750).Owned(7, 8),
		}},
		"parents through symlinks": {{
			Dir("usr", 0o755),
			Symlink("lnk", "usr"),
			Symlink("abs", "/usr"),
			Symlink("up", "../../../usr"),
			Symlink("chain", "lnk"),
			File("lnk/a", 0o644, "a"),
			File("abs/b", 0o644, "b"),
			File("up/c", 0o644, "c"),
			File("chain/d", 0o644, "d"),
			Symlink("dangling", "nowhere/deeper"),
			File("dangling/e", 0o644, "e"),
		}},
		"implicit parents": {{
			File("a/b/c", 0o600, "c").Owned(3, 3),
			Dir("sg", 0o2770).Owned(0, 44),
			File("sg/sub/deeper/f", 0o644, "f"),
		}},
		"type changes": {{
			File("f2d", 0o644, "file"),
			Dir("d2f", 0o755),
			File("d2f/child", 0o644, "child"),
			Symlink("s2d", "f2d"),
			Dir("keep", 0o755),
			File("keep/old", 0o644, "old"),
			File("filepar", 0o4640, "x").Owned(7, 9).WithXattr("security.capability", CapNetRaw),
			File("deep", 0o644, "x"),
		}, {
			Dir("f2d", 0o711),
			File("d2f", 0o600, "now file"),
			Dir("s2d", 0o755),
			Dir("keep", 0o700).Owned(1, 1),
			File("filepar/x", 0o644, "under a former file"),
			File("deep/a/b", 0o644, "two levels"),
		}},
		"whiteouts in the same layer": {{
			Dir("d", 0o755),
			File("d/old", 0o644, "old"),
			Dir("d/sub", 0o755),
			File("d/sub/old", 0o644, "old"),
			Dir("o", 0o755),
			File("o/old", 0o644, "old"),
			File("o/replaced", 0o644, "old"),
		}, {
			File("d/sub/new", 0o644, "new"),
			Whiteout("d"),
			File("o/before", 0o644, "before"),
			Opaque("o"),
			File("o/after", 0o644, "after"),
			Whiteout("missing"),
			Whiteout("missing/deeper/x"),
			Opaque("missing2"),
		}, {
			Opaque("/"),
			File("o/after", 0o600, "only me"),
		}},
		"hardlinks": {{
			Dir("d", 0o755),
			File("d/t", 0o4711, "target").Owned(5, 5).WithXattr("security.capability", CapNetRaw),
			Symlink("s", "d/t"),
			Fifo("p", 0o640),
			CharDev("c", 0o600, 4, 64),
			Symlink("dl", "d"),
			Hardlink("h1", "d/t"),
			Hardlink("h2", "s"),
			Hardlink("h3", "p"),
			Hardlink("h4", "dl/t"),
			Hardlink("h5", "/../d/t"),
			Hardlink("h6", "c"),
		}, {
			File("d/t", 0o644, "replaced"),
			Hardlink("h7", "h1"),
			Hardlink("d/t2", "d/t"),
		}},
		"devices": {{
			CharDev("big", 0o600, 5000, 2000000),
			BlockDev("huge", 0o600, 1<<31, 1<<31),
			CharDev("zero", 0o666, 0, 0),
			Fifo("fifo", 0o4777),
		}},
		"owners and modes": {{
			File("wide", 0o644, "x").Owned(1<<32+5, 70000),
			File("sticky", 0o1755, "x").Owned(65534, 65534),
			Dir("sgid", 0o2755).Owned(0, 12),
			File("sgid/f", 0o644, "no inherit when gid given"),
			Symlink("sgid/l", "f").Owned(4, 4),
		}},
		"capabilities": {{
			File("v2", 0o755, "x").WithXattr("security.capability", Capability(13)),
			File("v3root", 0o755, "x").WithXattr("security.capability", CapabilityV3(0, 13, 40)),
			File("v3user", 0o755, "x").WithXattr("security.capability", CapabilityV3(1000, 13)),
			File("empty", 0o755, "x").WithXattr("security.capability", ""),
			Dir("capdir", 0o755).WithXattr("security.capability", Capability(1)),
			File("other-xattrs", 0o644, "x").WithXattr("user.comment", "ignored"),
			File("cleared", 0o755, "x").WithXattr("security.capability", Capability(2)),
			Dir("capdir2", 0o755).WithXattr("security.capability", Capability(3)),
		}, {
			File("cleared", 0o755, "y"),
			Dir("capdir2", 0o755),
		}},
		"names": {{
			File("../../escape", 0o644, "clamped"),
			File("/abs", 0o644, "absolute"),
			File("./dot", 0o644, "dot"),
			File("a//b/./c/../d", 0o644, "lexical"),
			File("\xff\xfe", 0o644, "not utf-8"),
			File("Z", 0o644, "upper"), File("a-", 0o644, "sorting"), File("a.b", 0o644, "sorting"),
		}},
	}
}

// RejectedLayers returns layer sequences umoci cannot extract or that no
// layer can mean (whiteouts of "." and ".."): unpackers and measurements
// must fail on each.
func RejectedLayers() map[string][]Layer {
	return map[string][]Layer{
		"root as file":     {{File(".", 0o644, "x")}},
		"whiteout dot":     {{Dir("d", 0o755), File("d/.wh..", 0o644, "")}},
		"whiteout dotdot":  {{File(".wh...", 0o644, "")}},
		"link missing":     {{Hardlink("h", "nothing")}},
		"link to dir":      {{Dir("d", 0o755), Hardlink("h", "d")}},
		"link to itself":   {{File("f", 0o644, "x")}, {Hardlink("f", "f")}},
		"symlink loop":     {{Symlink("a", "b"), Symlink("b", "a"), File("a/x", 0o644, "x")}},
		"bad capability":   {{File("f", 0o755, "x").WithXattr("security.capability", "\x00\x00\x00\x01garbage")}},
		"v1 capability":    {{File("f", 0o755, "x").WithXattr("security.capability", "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00")}},
		"unsupported type": {{{Path: "x", Type: 'Z'}}},
	}
}
