//! The read-eval-print loop: `mica` with no class. Each line (or several
//! statements separated by periods) is compiled as a method and run; the
//! value is printed with `printString` (`'it''s'`, `#(1 $a)`, `an Object`). Assignments to undeclared names make
//! globals, so values carry over from line to line. Errors are reported and
//! the session goes on.

use interp::{Interpreter, Stop};
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

/// Runs the REPL until end of input or `system exit:`; answers the status.
pub fn run(interp: &mut Interpreter) -> i32 {
    let mut editor = match DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("mica: cannot start the line editor: {e}");
            return 1;
        }
    };
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".mica_history"));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!("Mica {} — evaluate Smalltalk expressions; end with Ctrl-D.", env!("CARGO_PKG_VERSION"));
    let mut status = 0;
    loop {
        match editor.readline("mica> ") {
            Ok(line) => {
                if line.trim().is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line.as_str());
                match interp.evaluate(&line) {
                    Ok(text) => {
                        interp.u.output.write_out(format!("{text}\n").as_bytes());
                        interp.u.output.flush();
                    }
                    Err(Stop::Exit(code)) => {
                        status = code;
                        break;
                    }
                    Err(stop) => {
                        interp.report(stop);
                        interp.u.output.flush();
                    }
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("mica: {e}");
                status = 1;
                break;
            }
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    interp.u.output.flush();
    status
}
