#!/usr/bin/env bash
# Installs the photographs the photo model trains on (docs/photo_data.md lists them with their
# licences) and builds the cached training patches (cache/photo_patches_*.safetensors).
# scikit-image's photos come with the package; the wallpapers come from Debian.
set -euo pipefail
if ! [ -d /usr/share/wallpapers/Path ] || ! [ -d /usr/share/backgrounds/mate/nature ]; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get install -y plasma-workspace-wallpapers mate-backgrounds
fi
python -c "
from pagoda_inverse.data.photos import cached_photo_patches, training_photo_files
print(len(training_photo_files()), 'training photos')
x = cached_photo_patches(${PATCHES:-100000})
print('patches', tuple(x.shape))
"
