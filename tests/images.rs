//! Mini-images from the command line: build, info, verify, run, link,
//! bundle; two versions of a namespace in one program; object graphs;
//! image pages the program does not write stay clean; every kind of bad
//! input gets a clear error and a non-zero exit, never a crash.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mica_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mica")).current_dir(dir).args(args).output().expect("mica runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory for one test, removed when the test ends (but kept,
/// to look at, when it fails).
struct Workspace(PathBuf);

impl Drop for Workspace {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl std::ops::Deref for Workspace {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

fn workspace(name: &str) -> Workspace {
    let dir = std::env::temp_dir().join(format!("mica-images-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    Workspace(dir)
}

/// Writes a package: `mica.toml` and class files.
fn package(dir: &Path, name: &str, manifest: &str, classes: &[(&str, &str)]) {
    let p = dir.join(name);
    std::fs::create_dir_all(&p).expect("package dir");
    std::fs::write(p.join("mica.toml"), manifest).expect("manifest");
    for (class, source) in classes {
        std::fs::write(p.join(format!("{class}.som")), source).expect("class file");
    }
}

/// Runs mica and insists it succeeds; answers its standard output.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = mica_in(dir, args);
    assert!(out.status.success(), "mica {args:?} failed: {}{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

/// Runs mica and insists it fails cleanly (status 1, a message, no signal);
/// answers its standard error.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = mica_in(dir, args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.signal(), None, "mica {args:?} crashed: {stderr}");
    assert_eq!(out.status.code(), Some(1), "mica {args:?}: {}{stderr}", text(&out.stdout));
    assert!(stderr.starts_with("mica: "), "mica {args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

const POINT: &str = "Point = (
    | x y |
    x = ( ^x )
    y = ( ^y )
    x: ax y: ay = ( x := ax. y := ay )
    + other = ( ^Point new x: x + other x y: y + other y )
    asString = ( ^'(' + x asString + ', ' + y asString + ')' )
    ----
    x: ax y: ay = ( ^self new x: ax y: ay )
)";

const APP: &str = "App = (
    run: args = (
        ((Point x: 1 y: 2) + (Point x: 10 y: 20)) println.
        \"The image's own classes are globals to system too.\"
        (system global: #Point) println.
        ((system hasGlobal: #App) and: [ (system hasGlobal: #Nothing) not ]) println.
        ('arguments: ' + (args size - 1) asString) println.
        2 to: args size do: [:i | (args at: i) println ].
        (#foo == 'foo' asSymbol) println
    )
)";

fn geometry(dir: &Path) {
    package(
        dir,
        "geo",
        "[package]\nname = \"Geometry\"\nversion = \"1.2.0\"\nmain = \"App\"\n",
        &[("Point", POINT), ("App", APP)],
    );
}

const GEOMETRY_OUTPUT: &str = "(11, 22)\nPoint\ntrue\narguments: 2\na\nb c\ntrue\n";

#[test]
fn round_trip_build_info_verify_run_bundle() {
    let dir = workspace("round-trip");
    geometry(&dir);
    ok(&dir, &["build", "geo", "-o", "geo.mimg"]);
    let info = ok(&dir, &["info", "geo.mimg"]);
    assert!(info.contains("Geometry 1.2.0, main class App"), "{info}");
    assert!(info.contains("sealed:         no"), "{info}");
    assert!(info.contains("Kernel ^0.1.0"), "{info}");
    assert!(info.contains("Geometry: App Point"), "{info}");
    assert!(info.contains("objects") && info.contains("relocations"), "{info}");
    let verify = ok(&dir, &["verify", "geo.mimg"]);
    assert!(verify.contains("geo.mimg: ok"), "{verify}");
    for jit in ["--jit=off", "--jit=on", "--jit=eager"] {
        assert_eq!(ok(&dir, &["run", jit, "geo.mimg", "--", "a", "b c"]), GEOMETRY_OUTPUT, "{jit}");
    }
    // A bundle runs from an empty directory with a bare environment.
    ok(&dir, &["bundle", "geo.mimg", "-o", "geo-app"]);
    ok(&dir, &["bundle", "geo.mimg", "-o", "geo-sealed", "--sealed"]);
    let elsewhere = dir.join("empty");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    std::fs::rename(dir.join("geo-app"), elsewhere.join("app")).expect("move");
    let out = Command::new(elsewhere.join("app"))
        .current_dir(&elsewhere)
        .env_clear()
        .args(["a", "b c"])
        .output()
        .expect("the bundle runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), GEOMETRY_OUTPUT);
    let info = ok(&dir, &["info", "geo-sealed"]);
    assert!(info.contains("sealed:         yes"), "{info}");
    assert!(info.contains("bundled:        yes"), "{info}");
    let info = ok(&elsewhere, &["info", "app"]);
    assert!(info.contains("sealed:         no"), "{info}");
    // A truncated image gets a clear error.
    let bytes = std::fs::read(dir.join("geo.mimg")).expect("image");
    std::fs::write(dir.join("short.mimg"), &bytes[..bytes.len() / 2]).expect("write");
    let err = fails(&dir, &["run", "short.mimg"]);
    assert!(err.contains("short.mimg: image is truncated"), "{err}");
}

fn fmt(dir: &Path, folder: &str, version: &str, body: &str) {
    let manifest = format!("[package]\nname = \"Fmt\"\nversion = \"{version}\"\n");
    let class = format!("Fmt = ( ---- show: x = ( ^{body} ) version = ( ^'{version}' ) )");
    package(dir, folder, &manifest, &[("Fmt", &class)]);
}

fn user(dir: &Path, name: &str, class: &str, requirement: &str) {
    let manifest = format!("[package]\nname = \"{name}\"\nversion = \"1.0.0\"\n[imports]\nFmt = \"{requirement}\"\n");
    let source = format!("{class} = ( ---- describe: x = ( ^'{class}: Fmt ' + Fmt version + ' ' + (Fmt show: x) ) )");
    package(dir, &name.to_lowercase(), &manifest, &[(class, &source)]);
}

#[test]
fn two_versions_of_a_namespace_in_one_program_separate_and_linked() {
    let dir = workspace("versions");
    fmt(&dir, "fmt1", "1.4.0", "'<' + x asString + '>'");
    fmt(&dir, "fmt2", "2.0.1", "'[' + x asString + ']'");
    user(&dir, "UserA", "A", "^1.0");
    user(&dir, "UserB", "B", "^2.0");
    package(
        &dir,
        "app",
        "[package]\nname = \"App\"\nversion = \"0.1.0\"\nmain = \"Main\"\n[imports]\nUserA = \"^1\"\nUserB = \"^1\"\n",
        &[("Main", "Main = ( run = ( (A describe: 42) println. (B describe: 42) println ) )")],
    );
    ok(&dir, &["build", "fmt1", "-o", "fmt-1.4.0.mimg"]);
    ok(&dir, &["build", "fmt2", "-o", "fmt-2.0.1.mimg"]);
    // The library path may hold both versions: each package binds the one
    // it asked for.
    std::fs::create_dir_all(dir.join("lib")).expect("lib");
    std::fs::copy(dir.join("fmt-1.4.0.mimg"), dir.join("lib/fmt-1.4.0.mimg")).expect("copy");
    std::fs::copy(dir.join("fmt-2.0.1.mimg"), dir.join("lib/fmt-2.0.1.mimg")).expect("copy");
    ok(&dir, &["build", "usera", "-o", "usera.mimg", "-L", "lib"]);
    ok(&dir, &["build", "userb", "-o", "userb.mimg", "-L", "lib"]);
    ok(&dir, &["build", "app", "-o", "app.mimg", "-L", "lib", "-L", "usera.mimg", "-L", "userb.mimg"]);
    let expected = "A: Fmt 1.4.0 <42>\nB: Fmt 2.0.1 [42]\n";
    let images = ["fmt-1.4.0.mimg", "fmt-2.0.1.mimg", "usera.mimg", "userb.mimg", "app.mimg"];
    let mut args = vec!["run"];
    args.extend(images);
    assert_eq!(ok(&dir, &args), expected);
    // The same with the libraries found on the library path.
    assert_eq!(ok(&dir, &["run", "app.mimg", "-L", "lib", "-L", "usera.mimg", "-L", "userb.mimg"]), expected);
    // Linked into one image.
    let mut args = vec!["link"];
    args.extend(images);
    args.extend(["-o", "all.mimg"]);
    ok(&dir, &args);
    assert!(ok(&dir, &["verify", "all.mimg"]).contains("ok"));
    let info = ok(&dir, &["info", "all.mimg"]);
    assert!(info.contains("Fmt 1.4.0") && info.contains("Fmt 2.0.1") && info.contains("App 0.1.0, main class Main"));
    assert!(!info.contains("UserA ^"), "imports between the linked images are resolved: {info}");
    assert_eq!(ok(&dir, &["run", "all.mimg"]), expected);
    // The linked image imports only the kernel, so it bundles.
    ok(&dir, &["bundle", "all.mimg", "-o", "all-app"]);
    let out = Command::new(dir.join("all-app")).env_clear().output().expect("runs");
    assert_eq!(text(&out.stdout), expected);
    // A rebuilt Fmt 1.4.0 (another build at the same base) and a Fmt 1.5.0
    // (another base) both serve UserA, which was linked against the first
    // build: its references are found again by name.
    fmt(&dir, "fmt1", "1.4.0", "'{' + x asString + '}'");
    ok(&dir, &["build", "fmt1", "-o", "fmt-1.4.0-rebuilt.mimg"]);
    fmt(&dir, "fmt15", "1.5.0", "'(' + x asString + ')'");
    ok(&dir, &["build", "fmt15", "-o", "fmt-1.5.0.mimg"]);
    for (fmt1, shown) in [("fmt-1.4.0-rebuilt.mimg", "A: Fmt 1.4.0 {42}"), ("fmt-1.5.0.mimg", "A: Fmt 1.5.0 (42)")] {
        let out = ok(&dir, &["run", "--stats", fmt1, "fmt-2.0.1.mimg", "usera.mimg", "userb.mimg", "app.mimg"]);
        assert_eq!(out, format!("{shown}\nB: Fmt 2.0.1 [42]\n"));
        let stats = text(
            &mica_in(&dir, &["run", "--stats", fmt1, "fmt-2.0.1.mimg", "usera.mimg", "userb.mimg", "app.mimg"]).stderr,
        );
        assert!(stats.contains("usera.mimg (UserA@1.0.0): relocated"), "{stats}");
        assert!(stats.contains("userb.mimg (UserB@1.0.0): at its preferred base"), "{stats}");
    }
}

#[test]
fn bad_images_and_packages_get_clear_errors() {
    let dir = workspace("bad");
    geometry(&dir);
    ok(&dir, &["build", "geo", "-o", "geo.mimg"]);
    let good = std::fs::read(dir.join("geo.mimg")).expect("image");
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).expect("write");
    let flip = |at: usize| {
        let mut b = good.clone();
        b[at] ^= 0x41;
        b
    };
    // Header, section table, a metadata section, the objects.
    let cases: [(&str, Vec<u8>, &str); 7] = [
        ("header.mimg", flip(33), "header or section table is corrupt"),
        ("table.mimg", flip(100), "corrupt"),
        ("imports.mimg", flip(0x5000 + 20), "imports section is corrupt"),
        ("objects.mimg", flip(0x1000 + 300), "corrupt"),
        (
            "version.mimg",
            {
                let mut b = good.clone();
                b[8] = 9;
                b
            },
            "format version 9 is not supported",
        ),
        (
            "arch.mimg",
            {
                let mut b = good.clone();
                b[12] = 4;
                b
            },
            "4-byte words",
        ),
        (
            "endian.mimg",
            {
                let mut b = good.clone();
                b[13] = 2;
                b
            },
            "not little-endian",
        ),
    ];
    for (name, bytes, message) in &cases {
        write(name, bytes);
        let err = fails(&dir, &["run", name]);
        assert!(err.contains(name) && err.contains(message), "{name}: {err}");
        let err = fails(&dir, &["verify", name]);
        assert!(err.contains(name), "{name}: {err}");
    }
    for len in [0, 7, 95, 4095, 4096, good.len() - 1] {
        write("cut.mimg", &good[..len]);
        let err = fails(&dir, &["run", "cut.mimg"]);
        assert!(err.contains("cut.mimg") && err.contains("truncated"), "{len}: {err}");
        fails(&dir, &["info", "cut.mimg"]);
    }
    write("text.mimg", b"not an image at all");
    assert!(fails(&dir, &["info", "text.mimg"]).contains("not a Mica image"));
    assert!(fails(&dir, &["run", "missing.mimg"]).contains("missing.mimg: cannot open"));
    // Imports: missing, unsatisfiable.
    fmt(&dir, "fmt2", "2.0.1", "x asString");
    user(&dir, "UserA", "A", "^1.0");
    ok(&dir, &["build", "fmt2", "-o", "fmt2.mimg"]);
    assert!(fails(&dir, &["build", "usera", "-o", "a.mimg"]).contains("no image on the library path provides Fmt"));
    let err = fails(&dir, &["build", "usera", "-o", "a.mimg", "-L", "fmt2.mimg"]);
    assert!(err.contains("it imports Fmt ^1.0, but the library path has only Fmt 2.0.1"), "{err}");
    fmt(&dir, "fmt1", "1.0.0", "x asString");
    ok(&dir, &["build", "fmt1", "-o", "fmt1.mimg"]);
    ok(&dir, &["build", "usera", "-o", "a.mimg", "-L", "fmt1.mimg"]);
    assert!(fails(&dir, &["run", "a.mimg"]).contains("a.mimg: it imports Fmt ^1.0, which no loaded image provides"));
    let err = fails(&dir, &["run", "fmt2.mimg", "a.mimg"]);
    assert!(err.contains("it imports Fmt ^1.0, but only Fmt 2.0.1 is loaded"), "{err}");
    // Cyclic imports: P imports Q, which imports (an older) P.
    package(&dir, "p", "[package]\nname = \"P\"\nversion = \"1.0.0\"\n", &[("P", "P = ( ---- hi = ( ^1 ) )")]);
    package(
        &dir,
        "q",
        "[package]\nname = \"Q\"\nversion = \"1.0.0\"\n[imports]\nP = \"^1\"\n",
        &[("Q", "Q = ( ---- hi = ( ^P hi ) )")],
    );
    ok(&dir, &["build", "p", "-o", "p-old.mimg"]);
    ok(&dir, &["build", "q", "-o", "q.mimg", "-L", "p-old.mimg"]);
    std::fs::write(dir.join("p/mica.toml"), "[package]\nname = \"P\"\nversion = \"1.0.0\"\n[imports]\nQ = \"^1\"\n")
        .expect("manifest");
    ok(&dir, &["build", "p", "-o", "p.mimg", "-L", "q.mimg", "-L", "p-old.mimg"]);
    assert!(fails(&dir, &["run", "p.mimg", "q.mimg"]).contains("cyclic imports"));
    // A package with a syntax error: the error has its position, and the
    // old output file is left as it was.
    package(
        &dir,
        "broken",
        "[package]\nname = \"Broken\"\nversion = \"1.0.0\"\n",
        &[("Broken", "Broken = (\n  m = ( ^1 + )\n)")],
    );
    std::fs::write(dir.join("out.mimg"), b"previous contents").expect("write");
    let err = fails(&dir, &["build", "broken", "-o", "out.mimg"]);
    assert!(err.contains("Broken.som:2:14: error:"), "{err}");
    assert_eq!(std::fs::read(dir.join("out.mimg")).expect("read"), b"previous contents");
    // Bad manifests.
    for (manifest, message) in [
        ("[package]\nname = \"X\"\n", "no version"),
        ("[package]\nname = \"X\"\nversion = \"1\"\n", "not a semantic version"),
        ("[package]\nname = \"X\"\nversion = \"1.0.0\"\nmian = \"M\"\n", "unknown key \"mian\""),
        ("[package\n", "TOML parse error"),
        ("[package]\nname = \"X\"\nversion = \"1.0.0\"\n[imports]\nY = \"not a req\"\n", "not a version requirement"),
        ("[package]\nname = \"X\"\nversion = \"1.0.0\"\nmain = \"Nope\"\n", "main class Nope is not defined"),
    ] {
        std::fs::write(dir.join("geo/mica.toml"), manifest).expect("manifest");
        let err = fails(&dir, &["build", "geo", "-o", "x.mimg"]);
        assert!(err.contains(message), "{manifest}: {err}");
    }
    assert!(fails(&dir, &["build", "nowhere", "-o", "x.mimg"]).contains("not a directory"));
    // A bundle of an image that imports more than the kernel is refused.
    assert!(fails(&dir, &["bundle", "a.mimg", "-o", "a-app"]).contains("link it into the image first"));
}

#[test]
fn object_graphs_map_back_and_image_writes_survive_collections() {
    let dir = workspace("graphs");
    let node =
        "Node = ( | value next | value = ( ^value ) next = ( ^next ) value: v next: n = ( value := v. next := n ) )";
    let main = "Main = (
    sum: list = ( | s n | s := 0. n := list. [ n isNil ] whileFalse: [ s := s + n value. n := n next ]. ^s )
    run: args = (
        | list loaded again before after |
        before := system imageStats.
        Keeper kept: (Array new: 1).
        Keeper kept at: 1 put: 'kept across collections'.
        1 to: 10 do: [:i | Array new: 100000. system fullGC ].
        (Keeper kept at: 1) println.
        after := system imageStats.
        ('pages written before the program wrote: ' + (before at: 4) asString) println.
        ('at most one page written after: ' + ((after at: 4) <= 4096) asString) println.
        list := nil.
        1 to: 1000 do: [:i | list := Node new value: i next: list ].
        \"Fuel's rule: shared objects (the list a temporary holds, the
         method's literal) are copied in.\"
        system saveGraphCopy: { list. 'text'. #sym. 3.5. Node. nil. true. 1 << 80 } to: (args at: 2).
        loaded := system loadGraph: (args at: 2).
        (self sum: (loaded at: 1)) println.
        (loaded at: 2) println.
        ((loaded at: 3) == #sym) println.
        (loaded at: 4) println.
        ((loaded at: 5) == Node) println.
        (loaded at: 6) println.
        (loaded at: 7) println.
        (loaded at: 8) println.
        again := system loadGraph: (args at: 2).
        (again at: 1) value: 0 next: nil.
        (self sum: (loaded at: 1)) println.
        (self sum: (again at: 1)) println.
        1 to: 10 do: [:i | Array new: 100000. system fullGC ].
        ((again at: 1) value + (loaded at: 1) value) println.
        ('written image objects: ' + (system imageStats at: 5) asString) println.
    )
)";
    package(
        &dir,
        "g",
        "[package]\nname = \"Graphs\"\nversion = \"1.0.0\"\nmain = \"Main\"\n",
        &[
            ("Node", node),
            ("Main", main),
            ("Keeper", "Keeper = ( ---- | kept | kept = ( ^kept ) kept: x = ( kept := x ) )"),
        ],
    );
    ok(&dir, &["build", "g", "-o", "g.mimg"]);
    let expected = "kept across collections\npages written before the program wrote: 0\n\
                    at most one page written after: true\n\
                    500500\ntext\ntrue\n3.5\ntrue\nnil\ntrue\n1208925819614629174706176\n500500\n0\n1000\n\
                    written image objects: 2\n";
    for mode in ["--jit=off", "--jit=eager", "--gc-stress"] {
        assert_eq!(ok(&dir, &["run", mode, "g.mimg", "--", "list.graph"]), expected, "{mode}");
    }
    assert!(ok(&dir, &["verify", "list.graph"]).contains("ok"));
    // A graph of instances of classes loaded from source: they have no
    // fixed address, so the graph is relocated when mapped.
    std::fs::write(dir.join("Node.som"), node).expect("write");
    std::fs::write(
        dir.join("FromSource.som"),
        "FromSource = ( run = ( | l | l := Node new value: 7 next: (Node new value: 8 next: nil).
            system saveGraph: l to: 'source.graph'.
            l := system loadGraph: 'source.graph'.
            (l value + l next value) println. (l class == Node) println.
            [ system loadGraph: 'g.mimg' ] value ) )",
    )
    .expect("write");
    let out = mica_in(&dir, &["FromSource.som"]);
    assert_eq!(text(&out.stdout), "15\ntrue\n");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("not an object graph (it defines Graphs@1.0.0)"), "{stderr}");
}

#[test]
fn object_graphs_keep_shared_objects_out_and_bind_them_at_load() {
    let dir = workspace("shared-graphs");
    // ImageSegment's rule: what only the root reaches goes in; what the
    // rest of the program also reaches (a field, a method literal) is
    // answered as shared and bound again at load.
    let main = r#"Main = (
    | keep |
    run = (
        | shared inner root result loaded again roots |
        shared := 'shared ' + 'text'.
        keep := Array with: shared.
        root := Array new: 3.
        root at: 1 put: (Array with: 1 with: 2 with: 3).
        root at: 2 put: shared.
        root at: 3 put: 'literal'.
        result := system saveGraph: root to: 'g.graph'.
        result length println.
        ((result at: 1) == shared) println.
        (result at: 2) println.
        loaded := system loadGraph: 'g.graph' with: result.
        ((loaded at: 2) == shared) println.
        ((loaded at: 1) at: 3) println.
        ((loaded at: 1) == (root at: 1)) println.
        "The loaded graph holds heap objects: collections keep and move them."
        shared := nil. keep := nil. result := nil. root := nil.
        1 to: 5 do: [:i | Array new: 100000. system fullGC].
        (loaded at: 2) println.
        again := system loadGraph: 'g.graph' with: (Array with: 'stand-in' with: 'other').
        (again at: 2) println.
        (again at: 3) println.
        "Several roots: each goes in although the program holds it."
        inner := Array with: 'in' + 'ner'.
        roots := Array with: inner with: (Array with: inner).
        (system saveGraphRoots: roots to: 'r.graph') length println.
        loaded := system loadGraph: 'r.graph'.
        (((loaded at: 2) at: 1) == (loaded at: 1)) println.
        ((loaded at: 1) == inner) println.
        system loadGraph: 'g.graph'
    )
)"#;
    std::fs::write(dir.join("Main.som"), main).expect("write");
    let expected = "2\ntrue\nliteral\ntrue\n3\nfalse\nshared text\nstand-in\nother\n0\ntrue\nfalse\n";
    for mode in ["--jit=off", "--jit=eager", "--gc-stress"] {
        let out = mica_in(&dir, &[mode, "Main.som"]);
        assert_eq!(text(&out.stdout), expected, "{mode}");
        assert_eq!(out.status.code(), Some(1), "{mode}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("g.graph: the graph shares 2 objects with the program that saved it, and 0 were given"),
            "{mode}: {stderr}"
        );
    }
    assert!(ok(&dir, &["verify", "g.graph"]).contains("ok"));
    assert!(ok(&dir, &["info", "g.graph"]).contains("Graph"));
    let linked = fails(&dir, &["link", "g.graph", "-o", "linked.mimg"]);
    assert!(linked.contains("refers to objects of the program that saved it"), "{linked}");
    assert!(!dir.join("linked.mimg").exists());
}
