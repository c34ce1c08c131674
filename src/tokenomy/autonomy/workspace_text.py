"""Risky text: the words and fragments a file the session wrote, or a runner's argument, may not hold
for :mod:`tokenomy.autonomy.classify_workspace` to vouch for the session's runs (:func:`risky_text`).

A word list and a fragment list matched on lower-cased text, not a parser: it names capabilities a
project's test run does not need (process spawning, network, deletion, file writes, credential or home
paths, decoding, dynamic evaluation). It cannot prove text harmless; it only ends trust early. Reads
text only.
"""

from __future__ import annotations

import re

__all__ = ["risky_text"]

# What a written file, or a runner's argument, may not hold for the workspace rules to vouch: words
# (identifiers, matched whole on the lower-cased text) and fragments (matched anywhere). A word list
# and substring tests instead of one expression: one pass over a file, however long.
_RISKY_WORDS = frozenset(
    """system popen popen2 popen3 spawn spawnl spawnlp spawnv spawnvp execv execve execvp execl execlp
    execle execsync execfilesync spawnsync child_process shell_exec passthru proc_open eval exec
    __import__ importlib getattr setattr globals ctypes cffi marshal pickle dill socket urllib
    urllib2 urllib3 requests httpx aiohttp urlopen fetch xmlhttprequest websocket smtplib ftplib
    paramiko telnetlib pty curl wget rmtree shutil unlink unlinksync rmdir rmsync removedirs symlink
    environ getenv putenv expanduser base64 b64decode codecs fromhex zlib bz2 lzma rot13 chr
    bytearray sudo crontab setuid writelines write_text write_bytes writefile writefilesync
    credentials credential secret secrets password passwd id_rsa authorized_keys hookspath bashrc
    netrc home scp rsync sftp ftp ncat netcat socat telnet ssh gsutil kubectl docker mkfs shred
    pkill killall subprocess pexpect execa shelljs plumbum execfile spawnvpe posix_spawn __builtins__
    builtins runpy run_path run_module sourcefileloader load_module load_source compile removeall
    remove_dir_all remove_file pythonpath""".split()  # noqa: SIM905
)
_RISKY_FRAGMENTS = (
    "os.remove", "os.rename", "os.replace", "os.kill", "os.chmod", "os.chown", "os.link", "os.fork",
    "os.startfile", ".write(", "fs.rm", "~", "/etc/", "/proc/", ".ssh", ".aws", ".env",
    ".git/hooks", "[::-1]", "\\x", "\\u00", "http.client", "process.env", "commands.", "rm -", "|sh",
    "| sh", "|bash", "| bash", "decode(", "$(", "new function", "/dev/tcp", "/dev/udp", "/dev/sd",
    "/dev/nvme", "/dev/mem", "sys.path", "/tmp", "process::", "command::new", ">>>", "```py",
)  # fmt: skip
_IDENT = re.compile(r"[a-z_][a-z0-9_]*")


def risky_text(text: str) -> str:
    """A word or fragment of ``text`` naming a capability a project test run does not need ("" if none):
    process spawning, network, deletion, file writes, credential or home paths, decoding or dynamic
    evaluation (see ``_RISKY_WORDS`` and ``_RISKY_FRAGMENTS``); matched on the lower-cased text."""
    low = text.lower()
    for frag in _RISKY_FRAGMENTS:
        if frag in low:
            return frag
    hit = _RISKY_WORDS.intersection(_IDENT.findall(low))
    return min(hit) if hit else ""
