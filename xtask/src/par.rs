//! Independent work over every core (at most 4 threads), results in input order: `chunks` for
//! many small items of similar cost (128 or more; `chunks_from` for fewer, costlier ones such as
//! files to read), `queue` for items of unequal cost.

/// How many threads to use: the cores this process may run on, at most 4. Asked once: the
/// answer comes from the cgroup files, a dozen system calls each time.
pub fn workers() -> usize {
    static WORKERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *WORKERS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 4))
}

/// Applies `f` to contiguous chunks of `items` on up to four threads (the caller's and scoped ones) and concatenates
/// the results in the order of the chunks, so the output never depends on scheduling.
pub fn chunks<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> Vec<R> + Sync) -> Vec<R> {
    // Below this many items of in-memory work, starting threads costs more than it saves.
    chunks_from(items, 128, f)
}

/// `chunks` for items that each cost a few microseconds or more (a file to read): threads as
/// soon as there are `min` items.
pub fn chunks_from<T: Sync, R: Send>(items: &[T], min: usize, f: impl Fn(&[T]) -> Vec<R> + Sync) -> Vec<R> {
    let workers = workers();
    if workers == 1 || items.len() < min.max(2) {
        return f(items);
    }
    let chunk = items.len().div_ceil(workers).max(1);
    let f = &f;
    // The calling thread takes the first chunk itself: one thread fewer to start (each start
    // and join costs some 40 µs here).
    let mut parts = items.chunks(chunk);
    let first = parts.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts.map(|part| scope.spawn(move || f(part))).collect();
        let mut out = f(first);
        out.extend(handles.into_iter().flat_map(|h| h.join().expect("a worker thread panicked")));
        out
    })
}

/// Applies `f` to every item on up to four threads (the caller's and scoped ones), each taking the next item not yet
/// taken (so one costly item does not leave the other cores idle), and returns the results in
/// the order of `items`, so the output never depends on scheduling.
pub fn queue<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = workers().min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (f, next) = (&f, &next);
    let work = move || {
        let mut mine = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(i) else { return mine };
            mine.push((i, f(item)));
        }
    };
    // The calling thread is one of the workers (a thread fewer to start).
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..workers).map(|_| scope.spawn(work)).collect();
        let mut done = work();
        done.extend(handles.into_iter().flat_map(|h| h.join().expect("a worker thread panicked")));
        done
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_input_order() {
        let items: Vec<usize> = (0..1000).collect();
        assert_eq!(super::chunks(&items, |part| part.iter().map(|i| i * 2).collect()), items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::chunks(&[] as &[usize], |part| part.to_vec()).is_empty());
        assert_eq!(super::queue(&items, |i| i * 2), items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::queue(&[] as &[usize], |i| *i).is_empty());
    }
}
