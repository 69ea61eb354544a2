# A dependency-free demo service: its run hook prints the message and port from its rendered
# config every few seconds and serves nothing. Handy to watch config layering and gossip:
#
#   hab origin key generate core
#   hab pkg build examples/demo
#   hab pkg install results/core-demo-0.1.0-*-x86_64-linux.hart
#   echo 'message = "hi there"' | hab config apply demo.default 2
pkg_origin=core
pkg_name=demo
pkg_version=0.1.0
pkg_maintainer="The murmur authors"
pkg_license=('Apache-2.0')
pkg_description="A demo service that prints its config's message and port every few seconds"

pkg_exports=(
  [port]=port
  [message]=message
)
pkg_exposes=(port)
