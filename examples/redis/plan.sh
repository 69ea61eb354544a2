# Redis as a murmur service: the package carries the config template and the run hook, and runs
# the host's redis-server (Debian: `apt-get install redis-server`); nothing is compiled.
#
#   hab origin key generate core
#   hab pkg build examples/redis
#   hab pkg install results/core-redis-7.0.0-*-x86_64-linux.hart
pkg_origin=core
pkg_name=redis
pkg_version=7.0.0
pkg_maintainer="The murmur authors"
pkg_license=('BSD-3-Clause')
pkg_description="Redis, an in-memory key-value store, run from the host's redis-server"
pkg_upstream_url=https://redis.io

# What other services see in the census, and may bind to: the port from the merged config.
pkg_exports=(
  [port]=port
)
pkg_exposes=(port)

# No pkg_svc_run: hooks/run is a template, so it can name the rendered config file.
