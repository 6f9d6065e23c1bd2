//! Day-2 safety of the Terraform roots: an environment whose VMs are all removed keeps its root
//! (retired, empty) until its apply destroyed them, and a VM moves to another root under its
//! name only once the root it leaves no longer manages it. Run through the binary on a copy of
//! the example, as an operator would.

use crate::common;

use std::fs;
use std::path::Path;

use common::{repo_copy, text, xtask};

/// The example's stack with every `[vms.*]` table of the `prod` environment left out.
fn without_vms(src: &str) -> String {
    let mut out = Vec::new();
    let mut skip = false;
    for line in src.lines() {
        if line.starts_with('[') {
            skip = line.starts_with("[vms.");
        }
        if !skip {
            out.push(line);
        }
    }
    assert!(src.contains("environment = \"prod\""), "the example's VMs are no longer in prod");
    out.join("\n") + "\n"
}

fn with_terraform_keys(src: &str, keys: &str) -> String {
    assert!(src.contains("[terraform]\n"), "the example has no [terraform]");
    src.replacen("[terraform]\n", &format!("[terraform]\n{keys}\n"), 1)
}

fn write_stack(root: &Path, src: &str) {
    fs::write(root.join("stack.toml"), src).unwrap();
}

const PROD: &str = "generated/terraform/environments/prod";
const ACK: &str = "acknowledge_recreate = [\"prod-alloc-budget\", \"prod-alloc-ia\", \"prod-blog-the\"]";

#[test]
fn removing_every_vm_of_an_environment_is_refused_until_its_root_is_retired_then_the_empty_root_can_go() {
    let tmp = repo_copy("retire");
    let root = tmp.path();
    let example = fs::read_to_string(root.join("stack.toml")).unwrap();
    // 1. The VMs removed, nothing else: refused, with the key and the way out.
    write_stack(root, &without_vms(&example));
    let out = xtask(root, &["gen"]);
    assert!(!out.status.success(), "gen removed a root that still manages VMs");
    let err = text(&out.stderr);
    assert!(err.contains("terraform.retired_environments: no VM is in environment `prod` any more, but its root (generated/terraform/environments/prod/) still manages `prod-alloc-budget`, `prod-alloc-ia`, `prod-blog-the`"), "{err}");
    assert!(err.contains("hint: add \"prod\" to `retired_environments` under [terraform] (`retired_environments = [\"prod\"]`)"), "{err}");
    assert!(root.join(PROD).join("main.tf").is_file(), "the refused gen touched the root");
    assert!(!xtask(root, &["check", "-q"]).status.success(), "check agreed with a refused stack");

    // 2. Following the hint: the root stays, with no VM; CI's listing still finds it.
    write_stack(root, &with_terraform_keys(&without_vms(&example), &format!("retired_environments = [\"prod\"]\n{ACK}")));
    let out = xtask(root, &["gen"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let main = fs::read_to_string(root.join(PROD).join("main.tf")).unwrap();
    assert!(main.contains("# The `prod` root: retired (`[terraform] retired_environments`): it manages no VM"), "{main}");
    assert!(!main.contains("\nmodule \""), "a retired root still calls a VM module:\n{main}");
    assert!(main.contains("for_each = toset([])"), "the retired root keeps its cloud image copies:\n{main}");
    assert!(!root.join("generated/cloud-init/prod-blog-the.yaml").exists(), "the removed VM's files stayed");
    let check = xtask(root, &["check", "--no-memo"]);
    assert!(check.status.success(), "{}{}", text(&check.stdout), text(&check.stderr));
    // `plan prod` knows the root and finds generated/ fresh: it gets as far as looking for
    // Terraform (kept off PATH here: its registry is not reachable).
    let plan = std::process::Command::new(env!("CARGO_BIN_EXE_xtask")).args(["plan", "prod", "--root"]).arg(root).env("PATH", "/nonexistent").output().unwrap();
    assert!(text(&plan.stderr).contains("plan: `terraform` is not on PATH"), "{}", text(&plan.stderr));

    // 3. A retired environment that gets a VM again is refused.
    let back = with_terraform_keys(&example, "retired_environments = [\"prod\"]");
    write_stack(root, &back);
    let out = xtask(root, &["gen"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(
            "terraform.retired_environments: environment `prod` is retired, but VMs are still in it: `prod-alloc-budget`, `prod-alloc-ia`, `prod-blog-the`"
        ),
        "{}",
        text(&out.stderr)
    );

    // 4. After its apply, the empty root leaves the list: gen removes it, and check passes.
    write_stack(root, &without_vms(&example));
    let out = xtask(root, &["gen"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!root.join(PROD).exists(), "the emptied root was kept");
    assert!(xtask(root, &["check", "--no-memo"]).status.success());
}

#[test]
fn a_vm_moves_to_another_root_under_its_name_only_once_the_root_it_leaves_no_longer_manages_it() {
    let tmp = repo_copy("move-root");
    let root = tmp.path();
    let example = fs::read_to_string(root.join("stack.toml")).unwrap();
    let block = "[vms.prod-blog-the]\n";
    let at = example.find(block).expect("the example has prod-blog-the");
    let moved = format!("{}{}", &example[..at], example[at..].replacen("environment = \"prod\"", "environment = \"dev\"", 1));
    write_stack(root, &moved);
    let out = xtask(root, &["gen"]);
    assert!(!out.status.success(), "gen let two roots manage prod-blog-the's snippets");
    let err = text(&out.stderr);
    assert!(
        err.contains("vms.prod-blog-the.environment: `prod-blog-the` is managed by the `prod` root, and would be by the `dev` root too under the same name"),
        "{err}"
    );
    assert!(err.contains("hint: give the VM in the `dev` root a new name"), "{err}");
    assert!(!root.join("generated/terraform/environments/dev").exists());
    // Under a new name (and vm_id), the move is a removal from prod and a new VM in dev.
    let renamed = moved.replacen("[vms.prod-blog-the]", "[vms.dev-blog-the]", 1).replacen("vm_id = 103", "vm_id = 113", 1);
    assert_ne!(renamed, moved);
    write_stack(root, &renamed);
    let out = xtask(root, &["gen"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(fs::read_to_string(root.join("generated/terraform/environments/dev/main.tf")).unwrap().contains("module \"dev_blog_the\""));
    assert!(!fs::read_to_string(root.join(PROD).join("main.tf")).unwrap().contains("module \"prod_blog_the\""));
}

#[test]
fn the_monitoring_vm_never_takes_a_name_a_vm_root_manages() {
    let tmp = repo_copy("monitoring-name");
    let root = tmp.path();
    let example = fs::read_to_string(root.join("stack.toml")).unwrap();
    let at = example.find("[vms.prod-blog-the]\n").unwrap();
    let end = example[at + 1..].find("\n[").map_or(example.len(), |i| at + 2 + i);
    let src = format!("{}{}", &example[..at], &example[end..]).replacen("name = \"pve-mon\"", "name = \"prod-blog-the\"", 1);
    assert_ne!(src, example);
    write_stack(root, &src);
    let out = xtask(root, &["gen"]);
    assert!(!out.status.success(), "the monitoring VM took a name the prod root manages");
    assert!(
        text(&out.stderr).contains("monitoring.name: `prod-blog-the` is managed by the `prod` root, and would be by the `monitoring` root too"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn only_roots_gen_made_are_guarded_and_a_retired_name_needs_a_root() {
    let tmp = repo_copy("own-folder");
    let root = tmp.path();
    // A folder of the operator's own is no root: gen keeps it (and says so), it does not ask to retire it.
    let own = root.join("generated/terraform/environments/shared");
    fs::create_dir_all(&own).unwrap();
    fs::write(own.join("main.tf"), "module \"my_thing\" {\n}\n").unwrap();
    let out = xtask(root, &["gen"]);
    let err = text(&out.stderr);
    assert!(!err.contains("retired_environments"), "{err}");
    assert!(err.contains("generated/terraform/environments/shared/main.tf"), "{err}");
    assert_eq!(fs::read_to_string(own.join("main.tf")).unwrap(), "module \"my_thing\" {\n}\n", "gen touched the operator's file");
    fs::remove_dir_all(&own).unwrap();
    // A retired name with no root (a typo) would make a new, empty root: refused.
    let example = fs::read_to_string(root.join("stack.toml")).unwrap();
    write_stack(root, &with_terraform_keys(&example, "retired_environments = [\"prdo\"]"));
    let out = xtask(root, &["gen"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("environment `prdo` is retired, but generated/ has no root of that name"), "{}", text(&out.stderr));
    assert!(!root.join("generated/terraform/environments/prdo").exists());
}
