# Shared by bench/s3.sh and bench/download.sh: prepares a server for an artifact download.
# Expects GW (a gateway token) and WORK (holding image.bin) to be set by the sourcing script.

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; }

# Gateway-token plug-and-play on, $WORK/image.bin uploaded into a set assigned to the device
# bench-dev (registered by its first poll); prints that device's DDI download URL of the file.
prepare() { # port -> download URL
  local url=http://127.0.0.1:$1
  api() { curl -sSf -u admin:bench-password -H 'content-type: application/json' "$@"; }
  api -X PUT "$url/rest/v1/system/configs/authentication.gatewaytoken.enabled" -d '{"value":true}' > /dev/null
  api -X PUT "$url/rest/v1/system/configs/authentication.gatewaytoken.key" -d "{\"value\":\"$GW\"}" > /dev/null
  local sm ds
  sm=$(api -X POST "$url/rest/v1/softwaremodules" -d '[{"name":"bench","version":"1","type":"os"}]' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  curl -sSf -u admin:bench-password "$url/rest/v1/softwaremodules/$sm/artifacts" -F "file=@$WORK/image.bin" > /dev/null
  ds=$(api -X POST "$url/rest/v1/distributionsets" \
    -d "[{\"name\":\"bench\",\"version\":\"1\",\"type\":\"os\",\"modules\":[{\"id\":$sm}]}]" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  curl -sSf -H "authorization: GatewayToken $GW" "$url/DEFAULT/controller/v1/bench-dev" > /dev/null
  api -X POST "$url/rest/v1/distributionsets/$ds/assignedTargets" -d '[{"id":"bench-dev"}]' > /dev/null
  echo "$url/DEFAULT/controller/v1/bench-dev/softwaremodules/$sm/artifacts/image.bin"
}
