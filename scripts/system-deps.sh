#!/usr/bin/env bash
# Debian packages the tests need: ffmpeg (codecs), espeak-ng (offline speech), mediainfo (an independent
# reader of the tags and chunks exports write), Xvfb + xdotool + Mesa
# (the editor in a real window), PulseAudio + PortAudio (real sound through a null sink), PipeWire with its
# PulseAudio server and session manager in a D-Bus session (the sound tests again, as most desktops run them).
set -euo pipefail
PKGS=(xvfb xauth xdotool libgl1-mesa-dri libglx-mesa0 libportaudio2 pulseaudio pulseaudio-utils
      libasound2-plugins ffmpeg espeak-ng mediainfo pipewire pipewire-pulse wireplumber dbus-daemon)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "error: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; fi
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
