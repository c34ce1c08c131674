"""Classification rules for version control and infrastructure command lines (git, kubectl, helm, ...).

Split out of :mod:`tokenomy.autonomy.classify`: each function takes the arguments after the program
name and returns (class, rule). ``git push`` publishes (deploy) unless it deletes or rewrites remote
refs (delete_remote); infrastructure CLIs deploy on apply/create/install and delete_remote on
delete/destroy/uninstall; everything else they do is read. See ``classify.RULES_DOC``.
"""

from __future__ import annotations

from tokenomy.autonomy.schedule import UNKNOWN

__all__ = ["git_class", "infra_class"]


def _words_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_GIT_READ = _words_set("status log diff show blame grep ls-files ls-tree rev-parse describe shortlog reflog")
_GIT_DRAFT = _words_set("add commit apply stash restore mv init config tag cherry-pick merge rebase switch")
_GIT_OPTS_WITH_ARG = _words_set("-C -c --git-dir --work-tree --namespace")


def git_class(args: list[str]) -> tuple[str, str]:
    """(class, rule) of ``git <args>``; global options (``-C dir``, ``-c k=v``) are skipped first."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 1 + (args[i] in _GIT_OPTS_WITH_ARG)
    sub = args[i] if i < len(args) else ""
    rest = args[i + 1 :]
    if sub == "push":
        if any(
            a in ("--delete", "-d", "--force", "-f", "--force-with-lease", "--mirror") for a in rest
        ) or any(a.startswith((":", "+")) for a in rest):
            return "delete_remote", "git push that deletes or rewrites remote refs"
        return "deploy", "git push"
    if sub == "clean" or (sub == "reset" and "--hard" in rest):
        return "delete_local", f"git {sub}"
    if sub in ("checkout", "restore") and ((rest[:1] == ["--"] and rest[1:2] == ["."]) or rest == ["."]):
        return "delete_local", f"git {sub} . (discards work)"
    if sub in _GIT_READ or (sub == "branch" and not {"-d", "-D", "-m", "-M"} & set(rest)) or sub == "remote":
        return "read", f"git {sub}"
    if sub in _GIT_DRAFT or sub in ("checkout", "branch", "reset", "rm"):
        return "draft", f"git {sub}"
    if sub in ("fetch", "pull", "clone", "submodule"):
        return "install", f"git {sub}"
    if sub == "" and (not args or args[-1] in ("--version", "--help")):
        return "read", "git"
    return UNKNOWN, f"no rule for git {sub!r}"


def infra_class(prog: str, args: list[str]) -> tuple[str, str]:
    """(class, rule) of an infrastructure CLI (kubectl, terraform, helm, docker, gh, aws, gcloud, ...)."""
    words = [a for a in args if not a.startswith("-")]
    joined = " ".join(words[:3])
    if prog == "kubectl":
        if words[:1] == ["delete"]:
            return "delete_remote", "kubectl delete"
        if words[:1] and words[0] in ("apply", "create", "replace", "rollout", "scale", "patch", "set"):
            return "deploy", f"kubectl {words[0]}"
        return "read", f"kubectl {joined}"
    if prog == "terraform":
        if words[:1] == ["destroy"]:
            return "delete_remote", "terraform destroy"
        return ("deploy", "terraform apply") if words[:1] == ["apply"] else ("read", f"terraform {joined}")
    if prog == "helm":
        if words[:1] and words[0] in ("uninstall", "delete"):
            return "delete_remote", f"helm {words[0]}"
        if words[:1] and words[0] in ("install", "upgrade", "rollback"):
            return "deploy", f"helm {words[0]}"
        return "read", f"helm {joined}"
    if prog == "docker":
        if words[:1] == ["push"]:
            return "deploy", "docker push"
        return "execute", f"docker {joined}"
    if prog == "gh":
        if words[:2] in (["release", "create"], ["pr", "create"], ["pr", "merge"]):
            return "deploy", f"gh {' '.join(words[:2])}"
        if words[:2] in (["repo", "delete"], ["release", "delete"]):
            return "delete_remote", f"gh {' '.join(words[:2])}"
        return "read", f"gh {joined}"
    if any(w in ("rm", "rb", "delete", "terminate-instances", "delete-bucket") for w in words):
        return "delete_remote", f"{prog} {joined}"
    if any(w in ("cp", "sync", "deploy", "create", "put-object", "run-instances", "update") for w in words):
        return "deploy", f"{prog} {joined}"
    return "read", f"{prog} {joined}"
