//! Stand-ins run as threads of the test process (they end with it): an HTTP backend that echoes
//! the Host header it received, and a Docker Engine socket that answers the calls Traefik's
//! docker provider makes (ping, version, an empty container list, an idle event stream).
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Duration;

/// First line and headers of one request: (method, path, host).
fn read_head(r: &mut impl BufRead) -> Option<(String, String, String)> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut host = String::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("host")
        {
            host = v.trim().to_string();
        }
    }
    Some((method, path, host))
}

/// An HTTP backend on `addr` answering every request `200 stub <name> host=<Host> path=<path>`.
pub fn http_backend(name: &str, addr: SocketAddr) {
    let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("stub {name}: cannot bind {addr}: {e}"));
    println!("lab: stub backend {addr} for {name}");
    let name = name.to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let name = name.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                while let Some((_, path, host)) = read_head(&mut r) {
                    let body = format!("stub {name} host={host} path={path}\n");
                    let resp = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                    if w.write_all(resp.as_bytes()).is_err() {
                        break;
                    }
                }
            });
        }
    });
}

/// A Docker Engine API stand-in on the unix socket `path` (API 1.45, no containers).
pub fn docker_socket(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                while let Some((method, path, _)) = read_head(&mut r) {
                    let head = "HTTP/1.1 200 OK\r\nApi-Version: 1.45\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/27.0.0 (linux)\r\n";
                    if path.contains("/events") {
                        // An event stream that never sends an event: held open until the client goes.
                        let _ = w.write_all(format!("{head}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").as_bytes());
                        let _ = w.flush();
                        loop {
                            std::thread::sleep(Duration::from_secs(3600));
                        }
                    }
                    let body = if path.contains("/_ping") {
                        "OK".to_string()
                    } else if path.contains("/version") {
                        r#"{"Version":"27.0.0","ApiVersion":"1.45","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64"}"#.to_string()
                    } else if path.contains("/containers/json") || path.contains("/services") || path.contains("/networks") {
                        "[]".to_string()
                    } else {
                        "{}".to_string()
                    };
                    let body = if method == "HEAD" { String::new() } else { body };
                    let resp = format!("{head}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                    if w.write_all(resp.as_bytes()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    println!("lab: Docker socket stand-in at {} (answers ping, version, an empty container list)", path.display());
}
