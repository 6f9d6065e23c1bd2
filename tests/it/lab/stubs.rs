//! Stand-ins run as threads of the test process (they end with it): an HTTP backend that echoes
//! the Host header it received.
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
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
