"""Classification rules for multi-command CLIs: git, kubectl, helm, docker, cloud CLIs, package managers.

Split out of :mod:`tokenomy.autonomy.classify`: each function takes the arguments after the program
name and returns (class, rule). Global options come before the subcommand (``kubectl -n prod delete
pod x``, ``helm --kube-context c upgrade``, ``docker --host h push``, ``git -C dir -c k=v push``), so
:func:`subcommand_args` skips them generically first: ``--flag=value``, short clusters (``-abc``),
attached values (``-nprod``), and an option known to take a value skips the next word. An option not
in the tool's table is taken as a flag when the next word is a known subcommand of the tool, else as
taking a value. Then the subcommand decides: ``git push`` publishes (deploy) unless it deletes or
rewrites remote refs (delete_remote); infrastructure CLIs deploy on apply/create/install and
delete_remote on delete/destroy/uninstall; read-only subcommands are read; an unlisted subcommand is
``"unknown"`` (fail closed). See ``classify_rules.RULES``.
"""

from __future__ import annotations

from tokenomy.autonomy.classify_rules import UNKNOWN_CLASS as UNKNOWN

__all__ = ["GLOBAL_VALUE_OPTS", "cli_class", "git_class", "subcommand_args"]


def _ws(text: str) -> frozenset[str]:
    return frozenset(text.split())


GLOBAL_VALUE_OPTS: dict[str, frozenset[str]] = {
    "git": _ws("-C -c --git-dir --work-tree --namespace --super-prefix --config-env --exec-path"),
    "kubectl": _ws(
        "-n --namespace --context --cluster --user --kubeconfig -s --server --token --as --as-group "
        "--as-uid --cache-dir --certificate-authority --client-certificate --client-key "
        "--request-timeout --tls-server-name --profile --profile-output -v --v --log-dir --log-file "
        "--vmodule --password --username -l --selector -o --output -f --filename"
    ),
    "helm": _ws(
        "-n --namespace --kube-context --kubeconfig --kube-apiserver --kube-as-user --kube-as-group "
        "--kube-ca-file --kube-token --kube-tls-server-name --registry-config --repository-cache "
        "--repository-config --burst-limit --qps"
    ),
    "docker": _ws("-H --host -c --context --config -l --log-level --tlscacert --tlscert --tlskey"),
    "podman": _ws(
        "--url --connection -c --root --runroot --storage-driver --storage-opt --log-level --identity "
        "--cgroup-manager --events-backend --module --runtime --tmpdir --volumepath --imagestore"
    ),
    "gcloud": _ws(
        "--project --account --configuration --format --verbosity --region --zone --billing-project "
        "--impersonate-service-account --flags-file --flatten --trace-token --access-token-file"
    ),
    "aws": _ws(
        "--profile --region --output --endpoint-url --query --cli-read-timeout --cli-connect-timeout "
        "--ca-bundle --color --cli-binary-format"
    ),
    "az": _ws("--subscription -o --output --query"),
    "gsutil": _ws("-o -h -p -u"),
    "terraform": _ws("-chdir"),
    "npm": _ws("--prefix -C --registry --userconfig --globalconfig --cache -w --workspace --loglevel"),
    "yarn": _ws("--cwd --cache-folder --modules-folder --registry --mutex --network-timeout"),
    "pnpm": _ws("-C --dir --filter -F --reporter --loglevel"),
    "systemctl": _ws(
        "-H --host -M --machine -t --type -p --property -s --signal --state -n --lines -o --output "
        "--root --kill-whom --job-mode"
    ),
    "gh": _ws("-R --repo"),
    "cargo": _ws("--manifest-path -Z --config --color -C"),
    "make": _ws("-C --directory -f --file --makefile -I --include-dir -o --old-file -W --what-if"),
}
"""Per tool: the global options that take a value (the next word, unless given as ``--opt=value``)."""

_VERBS: dict[str, dict[str, str]] = {}


def _verbs(tool: str, **by_class: str) -> None:
    _VERBS[tool] = {verb: cls for cls, words in by_class.items() for verb in words.split()}


_verbs(
    "kubectl",
    delete_remote="delete",
    deploy="apply create replace rollout scale patch set edit label annotate autoscale expose run "
    "cordon uncordon drain taint",
    execute="exec cp port-forward attach debug proxy",
    read="get describe logs explain api-resources api-versions version config cluster-info top auth "
    "diff wait events kustomize plugin completion",
)
_verbs(
    "helm",
    delete_remote="uninstall delete",
    deploy="install upgrade rollback",
    install="pull repo dependency fetch",
    read="list ls status get history show search template lint version env verify plugin completion",
)
_verbs(
    "docker",
    deploy="push",
    delete_local="rm rmi prune",
    install="pull",
    read="images ps logs inspect version info history stats top port diff search events",
    execute="run exec build compose create start stop restart kill cp commit tag load save login "
    "logout network volume image container system buildx builder context",
)
_VERBS["podman"] = _VERBS["docker"]
_verbs(
    "terraform",
    delete_remote="destroy",
    deploy="apply import taint untaint state",
    install="init get",
    read="plan show validate fmt output providers version graph workspace console",
)
_verbs(
    "systemctl",
    destroy="poweroff reboot halt kexec emergency rescue",
    deploy="start stop restart reload try-restart reload-or-restart enable disable mask unmask kill "
    "isolate set-property edit set-default daemon-reload reenable preset",
    read="status show list-units list-unit-files list-timers list-sockets list-dependencies is-active "
    "is-enabled is-failed cat help show-environment get-default",
)
_verbs(
    "npm",
    deploy="publish",
    delete_remote="unpublish deprecate",
    install="install i ci add update upgrade uninstall remove un rm link",
    execute="run run-script test t start stop restart exec x rebuild build init pack",
    read="ls list view info outdated audit why explain config get help version -v --version search doctor",
)
_verbs(
    "yarn",
    deploy="publish",
    install="install add upgrade remove up dlx link",
    execute="run test start build exec node create",
    read="list info why outdated audit config help version --version",
)
_VERBS["pnpm"] = _VERBS["yarn"]
_verbs(
    "cargo",
    deploy="publish",
    delete_remote="yank",
    install="install add update fetch uninstall remove",
    execute="build run test bench check clippy doc fmt new init clean fix",
    read="tree metadata search version --version help",
)
_GIT_READ = _ws("status log diff show blame grep ls-files ls-tree rev-parse describe shortlog reflog")
_GIT_DRAFT = _ws("add commit apply stash restore mv init config tag cherry-pick merge rebase switch")
_VERBS["git"] = dict.fromkeys(
    [*_GIT_READ, *_GIT_DRAFT, "push", "clean", "reset", "checkout", "branch", "rm", "remote", "fetch"],
    "x",
) | dict.fromkeys(["pull", "clone", "submodule", "worktree", "bisect", "revert", "gc", "am"], "x")
_CLOUD_DELETE = _ws("delete terminate remove purge destroy deregister rm rb")
_CLOUD_DEPLOY = _ws(
    "cp mv mb sync rsync ch set tag add deploy create put update start stop reboot modify attach detach "
    "invoke publish send apply import restore enable disable reset resize scale upload run"
)
_CLOUD_READ = _ws("ls list describe get show head wait help version info cat du stat logs read print")
_CLOUD_LOCAL = _ws("config configure auth login logout init components")
_MAKE_DEPLOY = ("deploy", "release", "publish", "upload", "push", "ship", "prod", "production")


def subcommand_args(tool: str, args: list[str]) -> list[str]:
    """``args`` from the subcommand on: the tool's global options (and their values) skipped.

    Args:
        tool: the program (``kubectl``, ``git``, ...); its :data:`GLOBAL_VALUE_OPTS` say which
            options take a value.
        args: the words after the program name.

    Returns:
        The words starting at the first non-option word (``[]`` when there is none).
    """
    with_value = GLOBAL_VALUE_OPTS.get(tool, frozenset())
    verbs = _VERBS.get(tool, {})
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            return args[i + 1 :]
        if not a.startswith("-") or a == "-":
            return args[i:]
        nxt = args[i + 1] if i + 1 < len(args) else None
        if "=" in a:
            i += 1
        elif a in with_value:
            i += 2
        elif not a.startswith("--") and len(a) > 2 and a[:2] in with_value:
            i += 1  # attached value: -nprod, -Cdir
        elif not a.startswith("--") and len(a) > 2 and f"-{a[-1]}" in with_value:
            i += 2  # cluster ending in a value option: -vn prod
        elif nxt is not None and verbs and nxt not in verbs and not nxt.startswith("-"):
            i += 2  # an unlisted option before a non-subcommand word: assume it takes that word
        else:
            i += 1
    return []


def git_class(args: list[str]) -> tuple[str, str]:
    """(class, rule) of ``git <args>``; global options (``-C dir``, ``-c k=v``, ``--no-pager``) skipped."""
    rest_all = subcommand_args("git", args)
    sub = rest_all[0] if rest_all else ""
    rest = rest_all[1:]
    if sub == "push":
        if any(
            a in ("--delete", "-d", "--force", "-f", "--force-with-lease", "--mirror", "--prune")
            or a.startswith("--force-with-lease=")
            for a in rest
        ) or any(a.startswith((":", "+")) for a in rest):
            return "delete_remote", "git push that deletes or rewrites remote refs"
        return "deploy", "git push"
    if sub == "clean" or (sub == "reset" and "--hard" in rest):
        return "delete_local", f"git {sub}"
    if sub in ("checkout", "restore") and ((rest[:1] == ["--"] and rest[1:2] == ["."]) or rest == ["."]):
        return "delete_local", f"git {sub} . (discards work)"
    if (sub == "branch" and {"-D", "--delete"} & set(rest)) or (
        sub == "stash" and rest[:1] in (["drop"], ["clear"])
    ):
        return "delete_local", f"git {sub} {' '.join(rest[:1])} (discards work)"
    if sub in _GIT_READ or (sub == "branch" and not {"-d", "-D", "-m", "-M"} & set(rest)) or sub == "remote":
        return "read", f"git {sub}"
    if sub in _GIT_DRAFT or sub in ("checkout", "branch", "reset", "rm", "revert", "am", "worktree"):
        return "draft", f"git {sub}"
    if sub in ("fetch", "pull", "clone", "submodule"):
        return "install", f"git {sub}"
    if sub == "" and (not args or args[-1] in ("--version", "--help")):
        return "read", "git"
    return UNKNOWN, f"no rule for git {sub!r}"


def _non_options(tool: str, args: list[str]) -> list[str]:
    """Words that are not options nor values of known value options (cloud CLIs take them anywhere)."""
    with_value = GLOBAL_VALUE_OPTS.get(tool, frozenset())
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a.startswith("-"):
            i += 2 if a in with_value else 1
        else:
            out.append(a)
            i += 1
    return out


def _verb_in(word: str, verbs: frozenset[str]) -> bool:
    """``word`` is one of ``verbs`` or starts with one and a hyphen (``delete-bucket``, ``put-object``)."""
    return word in verbs or word.split("-", 1)[0] in verbs


def _cloud(tool: str, args: list[str]) -> tuple[str, str]:
    words = _non_options(tool, args)
    joined = " ".join(words[:4])
    if words[:1] and words[0] in _CLOUD_LOCAL:
        return "read", f"{tool} {joined} (local configuration)"
    if any(_verb_in(w, _CLOUD_DELETE) for w in words):
        return "delete_remote", f"{tool} {joined}"
    if any(_verb_in(w, _CLOUD_DEPLOY) for w in words[1:] or words):
        return "deploy", f"{tool} {joined}"
    if not words or any(_verb_in(w, _CLOUD_READ) for w in words):
        return "read", f"{tool} {joined}"
    return UNKNOWN, f"no rule for {tool} {joined!r}"


def cli_class(tool: str, args: list[str]) -> tuple[str, str]:
    """(class, rule) of a multi-command CLI (kubectl, helm, docker, terraform, gh, cloud CLIs, ...)."""
    if tool in ("aws", "gcloud", "az", "gsutil"):
        return _cloud(tool, args)
    rest = subcommand_args(tool, args)
    sub = rest[0] if rest else ""
    words = _non_options(tool, rest[1:])
    if tool == "make":
        targets = [w for w in rest if "=" not in w and not w.startswith("-")]
        if any(
            t.startswith(_MAKE_DEPLOY) or t.endswith(("-deploy", "-release", "-publish")) for t in targets
        ):
            return "deploy", "make deploy/release target"
        if any(t in ("clean", "distclean", "mrproper") for t in targets):
            return "delete_local", "make clean"
        return "execute", "make"
    if tool in ("docker", "podman"):
        op = words[0] if words else ""
        if sub == "push" or (sub in ("image", "buildx") and (op == "push" or "--push" in rest)):
            return "deploy", f"{tool} push"
        if sub in ("rm", "rmi", "prune") or op in ("rm", "prune", "remove"):
            return "delete_local", f"{tool} {sub} {op}".strip()
    if tool == "gh":
        pair = [sub, *words[:1]]
        if pair in (["release", "create"], ["pr", "create"], ["pr", "merge"], ["workflow", "run"]):
            return "deploy", f"gh {' '.join(pair)}"
        if pair in (["repo", "delete"], ["release", "delete"]) or (sub == "api" and "DELETE" in rest):
            return "delete_remote", f"gh {' '.join(pair)}"
        if sub == "gist" and pair[1:] in (["create"], ["edit"], ["new"]):
            return "network_send", f"gh {' '.join(pair)} (uploads files)"
        if pair[1:] in (["comment"], ["close"], ["edit"], ["review"]) or pair == ["issue", "create"]:
            return "commit", f"gh {' '.join(pair)}"
        if sub in ("secret", "variable", "ssh-key", "gpg-key", "auth") and pair[1:] != ["status"]:
            return "secret_read", f"gh {' '.join(pair)} (credentials)"
        if sub in ("search", "status", "browse", "help", "version", "--version") or pair[1:] in (
            ["list"],
            ["view"],
            ["status"],
            ["diff"],
            ["checks"],
            ["ls"],
        ):
            return "read", f"gh {' '.join(pair)}"
        return UNKNOWN, f"no rule for gh {' '.join(pair)}"
    if tool == "yarn" and not sub:
        return "install", "yarn (install)"
    cls = _VERBS.get(tool, {}).get(sub)
    if cls is None and tool in ("yarn", "pnpm", "cargo") and sub:
        return "execute", f"{tool} {sub} (a package script or plugin)"
    if cls is None:
        if not sub and (not args or any(a in ("--version", "-v", "--help", "-h", "version") for a in args)):
            return "read", f"{tool} {' '.join(args)}".strip()
        return UNKNOWN, f"no rule for {tool} {sub!r}"
    return cls, f"{tool} {sub}"
