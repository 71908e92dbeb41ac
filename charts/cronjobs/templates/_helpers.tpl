{{/*
The `helm create` helper set, plus the job resolution and validation every template shares.
*/}}

{{/* Chart name (the app.kubernetes.io/name label). */}}
{{- define "cronjobs.name" -}}
{{- include "cronjobs.checkDnsLabel" (dict "where" "nameOverride" "value" .Values.nameOverride) }}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fail unless an override that becomes part of resource names is empty or a DNS label, as job keys
must be (the schema says so too; this holds with --skip-schema-validation). Input: dict with
"where" (the value's path) and "value".
*/}}
{{- define "cronjobs.checkDnsLabel" -}}
{{- $value := toString (default "" .value) }}
{{- if and $value (or (gt (len $value) 63) (not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $value))) }}
{{- fail (printf "ERROR: %s %q is not a valid name: it becomes part of every resource name, so use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. %q)" .where $value (regexReplaceAll "[^a-z0-9-]+" (lower $value) "-" | trimAll "-" | trunc 63 | trimSuffix "-")) }}
{{- end }}
{{- end }}

{{/*
Full name prefix of every resource. Truncated at 63 characters (DNS label); CronJob names add the
job key and are checked against the 52-character limit in "cronjobs.jobs".
*/}}
{{- define "cronjobs.fullname" -}}
{{- include "cronjobs.checkDnsLabel" (dict "where" "fullnameOverride" "value" .Values.fullnameOverride) }}
{{- include "cronjobs.checkDnsLabel" (dict "where" "nameOverride" "value" .Values.nameOverride) }}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "cronjobs.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels (cronctl selects CronJobs on app.kubernetes.io/name). */}}
{{- define "cronjobs.labels" -}}
helm.sh/chart: {{ include "cronjobs.chart" . }}
{{ include "cronjobs.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels. */}}
{{- define "cronjobs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cronjobs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Name of the ServiceAccount the jobs' pods use. */}}
{{- define "cronjobs.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cronjobs.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: repository:tag, the tag defaulting to the chart's appVersion, plus @digest when
`image.digest` is set. A whole-number tag (`--set image.tag=2`, or `tag: 2` in a values file,
which YAML reads as a number) is written as that number.
*/}}
{{- define "cronjobs.image" -}}
{{- include "cronjobs.imageRef" (dict "image" .Values.image "appVersion" .Chart.AppVersion) }}
{{- end }}

{{/*
The same for one image map (a job's own `image:` merged over the chart's). Input: dict with
"image" and "appVersion".
*/}}
{{- define "cronjobs.imageRef" -}}
{{- $tag := .image.tag }}
{{- if kindIs "float64" $tag }}{{ $tag = printf "%d" (int64 $tag) }}{{ end }}
{{- $ref := printf "%s:%s" .image.repository (default .appVersion (toString $tag)) }}
{{- with .image.digest }}{{ $ref = printf "%s@%s" $ref . }}{{ end }}
{{- $ref }}
{{- end }}

{{/*
Name of the Secret holding the connection settings; fails when `existingSecret` mode lacks a name.
*/}}
{{- define "cronjobs.secretName" -}}
{{- if eq .Values.connection.mode "existingSecret" }}
{{- if not .Values.connection.existingSecret }}
{{- fail "ERROR: connection.mode is \"existingSecret\" but connection.existingSecret is empty: set it to the name of the Secret holding DATABASE_URL, REDIS_URL, QDRANT_URL and QDRANT_API_KEY (e.g. --set connection.existingSecret=cronjobs-connection), or use connection.mode=chartSecret" }}
{{- end }}
{{- .Values.connection.existingSecret }}
{{- else }}
{{- printf "%s-connection" (include "cronjobs.fullname" .) }}
{{- end }}
{{- end }}


{{/*
The keys a job entry may set on top of `jobDefaults`.
*/}}
{{- define "cronjobs.jobOnlyKeys" -}}
enabled schedule schedules every args subcommand description image command
{{- end }}

{{/*
Convert `every` (15m, 2h, 1d, 7d) to a cron expression; fail when cron cannot express it evenly.
Input: dict with "where" (values path) and "every".
*/}}
{{- define "cronjobs.everyToCron" -}}
{{- $every := toString .every }}
{{- $hint := printf "use minutes that divide 60 (1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m), hours that divide 24 (1h, 2h, 3h, 4h, 6h, 8h, 12h), 1d or 7d; or set %s.schedule to a cron expression instead" (trimSuffix ".every" .where) }}
{{- if not (regexMatch "^[1-9][0-9]*[mhd]$" $every) }}
{{- fail (printf "ERROR: %s: %q is not an interval; write a number and a unit m, h or d (e.g. 15m, 2h, 1d): %s" .where $every $hint) }}
{{- end }}
{{- $n := atoi (trimSuffix "m" (trimSuffix "h" (trimSuffix "d" $every))) }}
{{- $unit := regexFind "[mhd]$" $every }}
{{- $minutes := $n }}
{{- if eq $unit "h" }}{{ $minutes = mul $n 60 }}{{ end }}
{{- if eq $unit "d" }}{{ $minutes = mul $n 1440 }}{{ end }}
{{- if and (lt $minutes 60) (eq (mod 60 $minutes) 0) }}
{{- if eq $minutes 1 }}* * * * *{{ else }}*/{{ $minutes }} * * * *{{ end }}
{{- else if and (lt $minutes 1440) (eq (mod $minutes 60) 0) (eq (mod 1440 $minutes) 0) }}
{{- $hours := div $minutes 60 }}
{{- if eq $hours 1 }}0 * * * *{{ else }}0 */{{ $hours }} * * *{{ end }}
{{- else if eq $minutes 1440 }}0 0 * * *
{{- else if eq $minutes 10080 }}0 0 * * 0
{{- else }}
{{- fail (printf "ERROR: %s: %q cannot be expressed evenly as a cron schedule (cron repeats within the hour, the day or the week, so the gap at the boundary would differ); %s" .where $every $hint) }}
{{- end }}
{{- end }}

{{/*
Validate a cron schedule the way Kubernetes' parser (robfig/cron, standard 5 fields) reads it:
5 fields, each a comma list of `*`, `?` (day fields), N, N-M, with an optional /STEP; month and
day-of-week names (JAN, SUN); or one of the @ macros; never a schedule that never fires. Stricter
than Kubernetes in places (no TZ=, no `@every`, `?` only in day fields); cronjobs.registry.cron_problem
says the same, and tests/chart/test_schedules.py holds the two (and cronjobs.cron) together.
Input: dict with "where" and "schedule".
*/}}
{{- define "cronjobs.validateSchedule" -}}
{{- $where := .where }}
{{- $s := trim (toString .schedule) }}
{{- $example := "e.g. \"0 2 * * *\" (02:00 daily) or \"*/30 * * * *\" (every 30 minutes)" }}
{{- $macros := list "@yearly" "@annually" "@monthly" "@weekly" "@daily" "@midnight" "@hourly" }}
{{- if regexMatch "(^|\\s)(CRON_)?TZ=" $s }}
{{- fail (printf "ERROR: %s: %q: do not put a time zone in the schedule; set %s.timeZone instead (Kubernetes rejects TZ= in schedules)" $where $s (regexReplaceAll "\\.schedules?(\\[[0-9]+\\])?$" $where "")) }}
{{- else if hasPrefix "@every" $s }}
{{- fail (printf "ERROR: %s: %q is not a cron schedule for this chart: Kubernetes accepts `@every`, but counts it from the CronJob's creation or last run (not the clock), and never runs it when startingDeadlineSeconds is shorter than the interval; for an interval set %s.every instead (e.g. every: 15m)" $where $s (regexReplaceAll "\\.schedules?(\\[[0-9]+\\])?$" $where "")) }}
{{- else if hasPrefix "@" $s }}
{{- if not (has $s $macros) }}
{{- fail (printf "ERROR: %s: %q is not a cron macro Kubernetes accepts; use one of %s, or for an interval set `every` (e.g. every: 15m)" $where $s (join ", " $macros)) }}
{{- end }}
{{- else if eq $s "" }}
{{- fail (printf "ERROR: %s is empty: set a cron schedule of 5 fields (minute hour day-of-month month day-of-week), %s, or a macro such as @daily" $where $example) }}
{{- else }}
{{- $fields := regexSplit "\\s+" $s -1 }}
{{- if ne (len $fields) 5 }}
{{- fail (printf "ERROR: %s: %q has %d fields; a cron schedule has 5 (minute hour day-of-month month day-of-week), %s, or use a macro such as @daily" $where $s (len $fields) $example) }}
{{- end }}
{{- $specs := list (list "minute" 0 59 "") (list "hour" 0 23 "") (list "day-of-month" 1 31 "") (list "month" 1 12 "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC") (list "day-of-week" 0 6 "SUN MON TUE WED THU FRI SAT") }}
{{- range $i, $field := $fields }}
{{- $spec := index $specs $i }}
{{- $fname := index $spec 0 }}{{ $min := index $spec 1 }}{{ $max := index $spec 2 }}
{{- $names := splitList " " (index $spec 3) }}
{{- $bad := printf "ERROR: %s: %q: the %s field %q" $where $s $fname $field }}
{{- $range := printf "%s is %d-%d" $fname $min $max }}
{{- if eq $fname "month" }}{{ $range = "month is 1-12 or JAN-DEC" }}{{ end }}
{{- if eq $fname "day-of-week" }}{{ $range = "day-of-week is 0-6 (0 = Sunday) or SUN-SAT" }}{{ end }}
{{- range $item := splitList "," $field }}
{{- if not (regexMatch "^(\\*|\\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?$" $item) }}
{{- fail (printf "%s is not valid cron syntax: each comma-separated item is *, N, N-M, optionally followed by /STEP; %s" $bad $example) }}
{{- end }}
{{- $parts := splitList "/" $item }}
{{- $base := index $parts 0 }}
{{- if gt (len $parts) 1 }}
{{- if lt (atoi (index $parts 1)) 1 }}
{{- fail (printf "%s has a step of 0; a step must be at least 1" $bad) }}
{{- end }}
{{- end }}
{{- if eq $base "?" }}
{{- if not (or (eq $fname "day-of-month") (eq $fname "day-of-week")) }}
{{- fail (printf "%s uses ?, which is allowed only in the day-of-month and day-of-week fields; use *" $bad) }}
{{- end }}
{{- else if ne $base "*" }}
{{- $ends := splitList "-" $base }}
{{- $values := list }}
{{- range $v := $ends }}
{{- if regexMatch "^[0-9]+$" $v }}
{{- if gt (len (regexReplaceAll "^0+" $v "")) 2 }}
{{- fail (printf "%s is out of range: %s" $bad $range) }}
{{- end }}
{{- $values = append $values (atoi $v) }}
{{- else if and (ne (index $names 0) "") (has (upper $v) $names) }}
{{- $pos := 0 }}
{{- range $j, $name := $names }}{{ if eq $name (upper $v) }}{{ $pos = $j }}{{ end }}{{ end }}
{{- $values = append $values (add $pos $min) }}
{{- else }}
{{- fail (printf "%s: %q is not a number or a name; %s" $bad $v $range) }}
{{- end }}
{{- end }}
{{- range $v := $values }}
{{- if or (lt (int64 $v) (int64 $min)) (gt (int64 $v) (int64 $max)) }}
{{- fail (printf "%s is out of range: %s" $bad $range) }}
{{- end }}
{{- end }}
{{- if and (eq (len $values) 2) (gt (int64 (index $values 0)) (int64 (index $values 1))) }}
{{- fail (printf "%s has a range whose start is after its end; write it as START-END with START <= END" $bad) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- include "cronjobs.checkFires" (dict "where" $where "schedule" $s "fields" $fields) }}
{{- end }}
{{- end }}

{{/*
Fail for a schedule that never fires: with a `*` (or `?`) in day-of-week, Kubernetes' cron
library (robfig/cron) needs the day of the month to exist in one of the months, else the
controller finds no time within five years (InvalidSchedule) and never runs the job: `0 0 31 2 *`.
Other day combinations always fire (a day-of-week ORed in, or every day). Input: dict with
"where", "schedule" and its 5 "fields", already validated.
*/}}
{{- define "cronjobs.checkFires" -}}
{{- $f := .fields }}
{{- $star := dict "dom" false "dow" false }}
{{- range $key, $i := dict "dom" 2 "dow" 4 }}
{{- range $item := splitList "," (index $f $i) }}
{{- $p := splitList "/" $item }}
{{- if and (has (index $p 0) (list "*" "?")) (or (eq (len $p) 1) (eq (atoi (index $p 1)) 1)) }}
{{- $_ := set $star $key true }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (get $star "dow") (not (get $star "dom")) }}
{{- $minDay := 31 }}
{{- range $item := splitList "," (index $f 2) }}
{{- $base := index (splitList "/" $item) 0 }}
{{- $start := 1 }}
{{- if not (has $base (list "*" "?")) }}{{ $start = atoi (index (splitList "-" $base) 0) }}{{ end }}
{{- if lt $start $minDay }}{{ $minDay = $start }}{{ end }}
{{- end }}
{{- $days := list 31 29 31 30 31 30 31 31 30 31 30 31 }}
{{- $names := list "JAN" "FEB" "MAR" "APR" "MAY" "JUN" "JUL" "AUG" "SEP" "OCT" "NOV" "DEC" }}
{{- $longest := 0 }}
{{- range $item := splitList "," (index $f 3) }}
{{- $p := splitList "/" $item }}
{{- $step := 1 }}{{ if gt (len $p) 1 }}{{ $step = atoi (index $p 1) }}{{ end }}
{{- $lo := 1 }}{{ $hi := 12 }}
{{- if ne (index $p 0) "*" }}
{{- $ends := list }}
{{- range $v := splitList "-" (index $p 0) }}
{{- if regexMatch "^[0-9]+$" $v }}{{ $ends = append $ends (atoi $v) }}
{{- else }}{{ range $j, $name := $names }}{{ if eq $name (upper $v) }}{{ $ends = append $ends (add1 $j | int) }}{{ end }}{{ end }}
{{- end }}
{{- end }}
{{- $lo = first $ends }}
{{- if gt (len $ends) 1 }}{{ $hi = last $ends }}{{ else if eq (len $p) 1 }}{{ $hi = $lo }}{{ end }}
{{- end }}
{{- range $m := untilStep (int $lo) (int (add1 $hi)) (int $step) }}
{{- if gt (index $days (sub $m 1)) $longest }}{{ $longest = index $days (sub $m 1) }}{{ end }}
{{- end }}
{{- end }}
{{- if gt $minDay $longest }}
{{- fail (printf "ERROR: %s: %q never fires: none of the months in the month field %q has a day in the day-of-month field %q (Kubernetes accepts the schedule and never starts the job: InvalidSchedule); choose days those months have" .where .schedule (index $f 3) (index $f 2)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A schedule in words, for NOTES.txt: the common forms; anything else is shown as is.
*/}}
{{- define "cronjobs.scheduleWords" -}}
{{- $s := . }}
{{- $f := regexSplit "\\s+" $s -1 }}
{{- $days := list "Sunday" "Monday" "Tuesday" "Wednesday" "Thursday" "Friday" "Saturday" }}
{{- if eq $s "@hourly" }}every hour
{{- else if or (eq $s "@daily") (eq $s "@midnight") }}daily at 00:00
{{- else if eq $s "@weekly" }}weekly on Sunday at 00:00
{{- else if eq $s "@monthly" }}monthly on day 1 at 00:00
{{- else if or (eq $s "@yearly") (eq $s "@annually") }}yearly on 1 January at 00:00
{{- else if ne (len $f) 5 }}{{ $s }}
{{- else if eq $s "* * * * *" }}every minute
{{- else if regexMatch "^\\*/[0-9]+ \\* \\* \\* \\*$" $s }}
{{- $step := atoi (trimPrefix "*/" (index $f 0)) }}
{{- if eq $step 1 }}every minute
{{- else if eq (mod 60 $step) 0 }}every {{ $step }} minutes
{{- else }}
{{- /* A step that does not divide the hour restarts at :00: say the minutes. */}}
{{- $minutes := list }}
{{- range $i := until (add1 (div 59 $step) | int) }}{{ $minutes = append $minutes (toString (mul $i $step)) }}{{ end }}
{{- if eq (len $minutes) 1 }}every hour at minute 0{{ else }}every hour at minutes {{ join ", " (initial $minutes) }} and {{ last $minutes }}{{ end }}
{{- end }}
{{- else if regexMatch "^[0-9]+ \\* \\* \\* \\*$" $s }}every hour at minute {{ index $f 0 }}
{{- else if regexMatch "^[0-9]+ \\*/[0-9]+ \\* \\* \\*$" $s }}
{{- $step := atoi (trimPrefix "*/" (index $f 1)) }}
{{- $at := "" }}{{ if ne (atoi (index $f 0)) 0 }}{{ $at = printf " at minute %s" (index $f 0) }}{{ end }}
{{- if eq $step 1 }}every hour{{ $at }}
{{- else if eq (mod 24 $step) 0 }}every {{ $step }} hours{{ $at }}
{{- else }}
{{- /* A step that does not divide the day restarts at 00:00: say the times. */}}
{{- $times := list }}
{{- range $i := until (add1 (div 23 $step) | int) }}{{ $times = append $times (printf "%02d:%02d" (mul $i $step) (atoi (index $f 0))) }}{{ end }}
{{- if eq (len $times) 1 }}daily at {{ first $times }}{{ else }}daily at {{ join ", " (initial $times) }} and {{ last $times }}{{ end }}
{{- end }}
{{- else if regexMatch "^[0-9]+ [0-9]+ \\* \\* \\*$" $s }}daily at {{ printf "%02d:%02d" (atoi (index $f 1)) (atoi (index $f 0)) }}
{{- else if regexMatch "^[0-9]+ [0-9]+ \\* \\* [0-6]$" $s }}weekly on {{ index $days (atoi (index $f 4)) }} at {{ printf "%02d:%02d" (atoi (index $f 1)) (atoi (index $f 0)) }}
{{- else if regexMatch "^[0-9]+ [0-9]+ [0-9]+ \\* \\*$" $s }}monthly on day {{ index $f 2 }} at {{ printf "%02d:%02d" (atoi (index $f 1)) (atoi (index $f 0)) }}
{{- else }}at cron "{{ $s }}"
{{- end }}
{{- end }}

{{/*
The shortest time in seconds between two runs of a schedule, for the forms whose gaps are fixed:
every minute or every N minutes (a minute step), hourly or every N hours (an hour step) at a
fixed minute, daily, weekly (so every `every` value). A step that does not divide the hour or the day leaves a shorter gap at the
boundary (a step of 45 minutes runs at :00 and :45, then 15 minutes later), and that gap counts. Empty for
any other form. Numbers are read in base 10 (atoi), as Kubernetes reads them.
*/}}
{{- define "cronjobs.intervalSeconds" -}}
{{- $f := regexSplit "\\s+" (trim (toString .)) -1 }}
{{- $s := join " " $f }}
{{- if eq $s "@hourly" }}3600
{{- else if or (eq $s "@daily") (eq $s "@midnight") }}86400
{{- else if eq $s "@weekly" }}604800
{{- else if ne (len $f) 5 }}
{{- else if eq $s "* * * * *" }}60
{{- else if regexMatch "^\\*/[0-9]+ \\* \\* \\* \\*$" $s }}
{{- include "cronjobs.stepGap" (list (atoi (trimPrefix "*/" (index $f 0))) 60 60) }}
{{- else if regexMatch "^[0-9]+ \\* \\* \\* \\*$" $s }}3600
{{- else if regexMatch "^[0-9]+ \\*/[0-9]+ \\* \\* \\*$" $s }}
{{- include "cronjobs.stepGap" (list (atoi (trimPrefix "*/" (index $f 1))) 24 3600) }}
{{- else if regexMatch "^[0-9]+ [0-9]+ \\* \\* \\*$" $s }}86400
{{- else if regexMatch "^[0-9]+ [0-9]+ \\* \\* [0-9]+$" $s }}604800
{{- end }}
{{- end }}

{{/*
Shortest gap of a field stepped by STEP from its start over a cycle of CYCLE units of SECONDS each: runs at 0, STEP,
..., k*STEP, then the cycle wraps. Input: list STEP CYCLE SECONDS.
*/}}
{{- define "cronjobs.stepGap" -}}
{{- $step := int64 (index . 0) }}{{ $cycle := int64 (index . 1) }}{{ $unit := int64 (index . 2) }}
{{- $last := mul (div (sub $cycle 1) $step) $step }}
{{- if eq $last 0 }}{{ mul $cycle $unit }}
{{- else }}{{ mul (min $step (sub $cycle $last)) $unit }}
{{- end }}
{{- end }}

{{/*
Deep-merge the map .src into the map .dst, in place, key by key: a map merges into a map; any
other value (a scalar, an explicit false or 0, a list) replaces; null removes the key (as Helm
does for chart defaults). Input: dict with "dst" and "src".
*/}}
{{- define "cronjobs.mergeInto" -}}
{{- $dst := .dst }}
{{- range $k, $v := .src }}
{{- if kindIs "invalid" $v }}
{{- $_ := unset $dst $k }}
{{- else if and (kindIs "map" $v) (kindIs "map" (get $dst $k)) }}
{{- include "cronjobs.mergeInto" (dict "dst" (get $dst $k) "src" $v) }}
{{- else }}
{{- $_ := set $dst $k (deepCopy $v) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The `jobDefaults` keys whose maps a job's map is merged into (the others are replaced).
*/}}
{{- define "cronjobs.mergedKeys" -}}
podSecurityContext securityContext resources alerts podLabels podAnnotations nodeSelector ping keeper
{{- end }}

{{/* A Prometheus duration (90m, 26h, 8d, 1w) in seconds. */}}
{{- define "cronjobs.durationSeconds" -}}
{{- $d := toString . }}
{{- $n := atoi (regexFind "^[0-9]+" $d) }}
{{- $unit := regexFind "[smhdw]$" $d }}
{{- $factors := dict "s" 1 "m" 60 "h" 3600 "d" 86400 "w" 604800 }}
{{- mul $n (get $factors $unit) }}
{{- end }}

{{/*
The enabled jobs, resolved and validated, as YAML: a map from job key to its settings (every
`jobDefaults` key filled in, `schedule` resolved from `every`, plus `name` and `subcommand`).
Every template that needs the jobs goes through here, so every check fails at install time.
*/}}
{{- define "cronjobs.jobs" -}}
{{- $root := . }}
{{- $fullname := include "cronjobs.fullname" . }}
{{- $merged := splitList " " (include "cronjobs.mergedKeys" .) }}
{{- $allowed := concat (keys .Values.jobDefaults) (splitList " " (include "cronjobs.jobOnlyKeys" .)) }}
{{- $out := dict }}
{{- $problems := list }}
{{- range $jobKey, $jobValues := .Values.jobs }}
{{- /* `schedules`: one CronJob per schedule, keyed <key>-<i>, each with `group` = the key. */}}
{{- $units := list (list $jobKey $jobValues "" "") }}
{{- if and (kindIs "map" $jobValues) (hasKey $jobValues "schedules") (not (kindIs "invalid" $jobValues.schedules)) }}
{{- if not $jobValues.schedules }}
{{- fail (printf "ERROR: jobs.%s.schedules is empty: list one cron schedule per CronJob, e.g. [\"0 2 * * *\", \"30 14 * * 1-5\"], or set schedule instead" $jobKey) }}
{{- end }}
{{- $units = list }}
{{- range $i, $s := $jobValues.schedules }}
{{- $one := omit $jobValues "schedules" "every" }}
{{- $_ := set $one "schedule" $s }}
{{- $units = append $units (list (printf "%s-%d" $jobKey $i) $one $jobKey (printf "jobs.%s.schedules[%d]" $jobKey $i)) }}
{{- end }}
{{- end }}
{{- range $unit := $units }}
{{- $key := index $unit 0 }}{{ $job := index $unit 1 }}{{ $group := index $unit 2 }}{{ $scheduleWhere := index $unit 3 }}
{{- $where := printf "jobs.%s" (default $key $group) }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $key) }}
{{- fail (printf "ERROR: job key %q is not a valid name: job keys become part of the CronJob name, so use lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. %q)" $key (regexReplaceAll "[^a-z0-9-]+" (lower $key) "-" | trimAll "-")) }}
{{- end }}
{{- if not (kindIs "map" $job) }}
{{- fail (printf "ERROR: %s must be a map of settings (enabled, schedule, args, ...), not %q" $where (toString $job)) }}
{{- end }}
{{- range $k, $_ := $job }}
{{- if not (has $k $allowed) }}
{{- fail (printf "ERROR: %s.%s is not a job setting; allowed: %s" $where $k (join ", " (sortAlpha $allowed))) }}
{{- end }}
{{- end }}
{{- $enabled := true }}
{{- if hasKey $job "enabled" }}{{ if not (kindIs "invalid" $job.enabled) }}{{ $enabled = $job.enabled }}{{ end }}{{ end }}
{{- if $enabled }}
{{- $cfg := deepCopy $root.Values.jobDefaults }}
{{- range $k, $v := $job }}
{{- if kindIs "invalid" $v }}
{{- else if and (has $k $merged) (kindIs "map" $v) (kindIs "map" (get $cfg $k)) }}
{{- include "cronjobs.mergeInto" (dict "dst" (get $cfg $k) "src" $v) }}
{{- else }}
{{- $_ := set $cfg $k $v }}
{{- end }}
{{- end }}
{{- $subcommand := default $key $group }}
{{- if and (hasKey $job "subcommand") $job.subcommand }}{{ $subcommand = $job.subcommand }}{{ end }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$" (toString $subcommand)) }}
{{- fail (printf "ERROR: %s.subcommand: %q is not a subcommand name: a built-in job (cleanup-old-sessions, health-check, ...), a job the app registered with @job (see `cronjobs list` in its image), or run (with args: [\"module:function\"])" $where (toString $subcommand)) }}
{{- end }}
{{- $_ := set $cfg "image" (merge (deepCopy (default dict $job.image)) (deepCopy $root.Values.image)) }}
{{- $schedule := "" }}
{{- if and (hasKey $job "every") $job.every }}
{{- $schedule = include "cronjobs.everyToCron" (dict "where" (printf "%s.every" $where) "every" $job.every) }}
{{- else if and (hasKey $job "schedule") $job.schedule }}
{{- $schedule = trim (toString $job.schedule) }}
{{- include "cronjobs.validateSchedule" (dict "where" (default (printf "%s.schedule" $where) $scheduleWhere) "schedule" $schedule) }}
{{- else }}
{{- fail (printf "ERROR: %s has neither `schedule` nor `every`: set one, e.g. --set %s.schedule=\"0 2 * * *\" or --set %s.every=1h" $where $where $where) }}
{{- end }}
{{- $interval := include "cronjobs.intervalSeconds" $schedule }}
{{- if $interval }}
{{- $interval = int64 $interval }}
{{- $deadline := int64 $cfg.activeDeadlineSeconds }}
{{- $fit := sub $interval (max (div $interval 5) 30) }}
{{- if ge $deadline $interval }}
{{- if and (hasKey $job "activeDeadlineSeconds") (not (kindIs "invalid" $job.activeDeadlineSeconds)) }}
{{- fail (printf "ERROR: %s.activeDeadlineSeconds (%d) must be shorter than the job's interval (%ds, schedule %q), or a hung run makes the next one be skipped: lower it, e.g. --set %s.activeDeadlineSeconds=%d, or set it to null to use jobDefaults.activeDeadlineSeconds lowered to fit the interval" $where $deadline $interval $schedule $where $fit) }}
{{- end }}
{{- $_ := set $cfg "activeDeadlineSeconds" $fit }}
{{- end }}
{{- end }}
{{- $jitter := int64 (default 0 $cfg.jitter) }}
{{- if ge $jitter (int64 $cfg.activeDeadlineSeconds) }}
{{- fail (printf "ERROR: %s (%ds) must be below the job's activeDeadlineSeconds (%ds): the random delay counts against the deadline, so a run could be stopped before it starts; lower it, e.g. --set %s.jitter=%d" (include "cronjobs.valuePath" (dict "key" $key "job" $job "path" (list "jitter"))) $jitter (int64 $cfg.activeDeadlineSeconds) $where (div (int64 $cfg.activeDeadlineSeconds) 10)) }}
{{- end }}
{{- $name := printf "%s-%s" $fullname $key }}
{{- if gt (len $name) 52 }}
{{- fail (printf "ERROR: CronJob name %q is %d characters; Kubernetes allows 52 (it appends 11 to name each Job). Shorten the release name, set fullnameOverride (now %q), or use a shorter job key than %q" $name (len $name) $fullname $key) }}
{{- end }}
{{- $jobProblems := include "cronjobs.podSecurityProblems" (dict "root" $root "key" $key "job" $job "cfg" $cfg) | fromJsonArray }}
{{- $problems = concat $problems $jobProblems }}
{{- $_ := set $cfg "podSecurityProblems" $jobProblems }}
{{- $_ := set $cfg "schedule" $schedule }}
{{- $_ := set $cfg "subcommand" $subcommand }}
{{- $_ := set $cfg "name" $name }}
{{- $_ := set $cfg "args" (default list $cfg.args) }}
{{- $_ := unset $cfg "every" }}
{{- $_ := unset $cfg "enabled" }}
{{- $_ := unset $cfg "schedules" }}
{{- if $group }}
{{- $_ := set $cfg "group" $group }}
{{- if hasKey $.Values.jobs $key }}
{{- fail (printf "ERROR: jobs.%s.schedules makes a CronJob keyed %q, which the job jobs.%s also uses: rename one of the two jobs" $group $key $key) }}
{{- end }}
{{- end }}
{{- $_ := set $out $key $cfg }}
{{- end }}
{{- end }}
{{- end }}
{{- $problems = uniq $problems }}
{{- if and $problems (not .Values.podSecurity.allowNonRestricted) }}
{{- fail (printf "ERROR: %s. These values break the \"restricted\" Pod Security Standard (https://kubernetes.io/docs/concepts/security/pod-security-standards/): a namespace that enforces it rejects the pods, and the jobs need none of these privileges. Fix them; or, to render them anyway, set podSecurity.allowNonRestricted=true (the install notes then list them)" (join "; " $problems)) }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
Where a job setting comes from, for messages: `jobs.<key>.<path>` when the job's own entry sets
it (even to null), else `jobDefaults.<path>`. Input: dict with "key", "job" (the job's values) and
"path" (a list of keys).
*/}}
{{- define "cronjobs.valuePath" -}}
{{- $node := .job }}
{{- $found := true }}
{{- range $k := .path }}
{{- if and $found (kindIs "map" $node) (hasKey $node $k) }}{{ $node = get $node $k }}{{ else }}{{ $found = false }}{{ end }}
{{- end }}
{{- if $found }}jobs.{{ .key }}{{ else }}jobDefaults{{ end }}.{{ join "." .path }}
{{- end }}

{{/*
The settings of one job's pod that break the "restricted" Pod Security Standard
(https://kubernetes.io/docs/concepts/security/pod-security-standards/), as a JSON list of
messages that each start with the value path. Every control of the Baseline and Restricted
profiles that the chart's values can reach is checked: the pod and container securityContext
(host process, privileged, capabilities, AppArmor, SELinux, /proc mount, seccomp, sysctls,
privilege escalation, non-root, non-zero user), the AppArmor pod annotations, and the volume
types of `extraVolumes`. Host namespaces, host ports and probes cannot be set through the values
(the schema rejects them). Input: dict with "root", "key", "job" (its values) and "cfg" (resolved).
*/}}
{{- define "cronjobs.podSecurityProblems" -}}
{{- $key := .key }}{{ $job := .job }}{{ $cfg := .cfg }}
{{- $problems := list }}
{{- $psc := default dict $cfg.podSecurityContext }}
{{- $sc := default dict $cfg.securityContext }}
{{- $seccompTypes := list "RuntimeDefault" "Localhost" }}
{{- $seLinuxTypes := list "" "container_t" "container_init_t" "container_kvm_t" "container_engine_t" }}
{{- $safeSysctls := list "kernel.shm_rmid_forced" "net.ipv4.ip_local_port_range" "net.ipv4.ip_unprivileged_port_start" "net.ipv4.tcp_syncookies" "net.ipv4.ping_group_range" "net.ipv4.ip_local_reserved_ports" "net.ipv4.tcp_keepalive_time" "net.ipv4.tcp_fin_timeout" "net.ipv4.tcp_keepalive_intvl" "net.ipv4.tcp_keepalive_probes" }}
{{- range $section := list "podSecurityContext" "securityContext" }}
{{- $ctx := $sc }}
{{- if eq $section "podSecurityContext" }}{{ $ctx = $psc }}{{ end }}
{{- $at := dict "key" $key "job" $job }}
{{- if and (hasKey $ctx "runAsNonRoot") (eq (toString $ctx.runAsNonRoot) "false") }}
{{- $problems = append $problems (printf "%s is false: the jobs must run as a non-root user; set it to true (or remove it)" (include "cronjobs.valuePath" (merge (dict "path" (list $section "runAsNonRoot")) $at))) }}
{{- end }}
{{- if and (hasKey $ctx "runAsUser") (eq (toString $ctx.runAsUser) "0") }}
{{- $problems = append $problems (printf "%s is 0 (root): use a non-zero user, e.g. 10001 (the image's user)" (include "cronjobs.valuePath" (merge (dict "path" (list $section "runAsUser")) $at))) }}
{{- end }}
{{- with $ctx.seccompProfile }}
{{- if and (hasKey . "type") (not (has (toString .type) $seccompTypes)) }}
{{- $problems = append $problems (printf "%s is %q: use RuntimeDefault (or Localhost with a profile of your own)" (include "cronjobs.valuePath" (merge (dict "path" (list $section "seccompProfile" "type")) $at)) (toString .type)) }}
{{- end }}
{{- end }}
{{- with $ctx.appArmorProfile }}
{{- if and (hasKey . "type") (not (has (toString .type) $seccompTypes)) }}
{{- $problems = append $problems (printf "%s is %q: use RuntimeDefault or Localhost, or leave it unset" (include "cronjobs.valuePath" (merge (dict "path" (list $section "appArmorProfile" "type")) $at)) (toString .type)) }}
{{- end }}
{{- end }}
{{- with $ctx.seLinuxOptions }}
{{- $se := . }}
{{- if not (has (toString (default "" .type)) $seLinuxTypes) }}
{{- $problems = append $problems (printf "%s is %q: leave it unset or use container_t, container_init_t, container_kvm_t or container_engine_t" (include "cronjobs.valuePath" (merge (dict "path" (list $section "seLinuxOptions" "type")) $at)) (toString .type)) }}
{{- end }}
{{- range $field := list "user" "role" }}
{{- if get $se $field }}
{{- $problems = append $problems (printf "%s is set: a custom SELinux %s is not allowed; remove it" (include "cronjobs.valuePath" (merge (dict "path" (list $section "seLinuxOptions" $field)) $at)) $field) }}
{{- end }}
{{- end }}
{{- end }}
{{- with $ctx.windowsOptions }}
{{- if eq (toString .hostProcess) "true" }}
{{- $problems = append $problems (printf "%s is true: HostProcess containers get privileged access to the host; remove it" (include "cronjobs.valuePath" (merge (dict "path" (list $section "windowsOptions" "hostProcess")) $at))) }}
{{- end }}
{{- end }}
{{- end }}
{{- $at := dict "key" $key "job" $job }}
{{- range $i, $sysctl := default list $psc.sysctls }}
{{- if not (has (toString (get $sysctl "name")) $safeSysctls) }}
{{- $problems = append $problems (printf "%s[%d] is %q, not one of the safe sysctls (%s): remove it" (include "cronjobs.valuePath" (merge (dict "path" (list "podSecurityContext" "sysctls")) $at)) $i (toString (get $sysctl "name")) (join ", " $safeSysctls)) }}
{{- end }}
{{- end }}
{{- if eq (toString $sc.privileged) "true" }}
{{- $problems = append $problems (printf "%s is true: a privileged container disables most security mechanisms; remove it" (include "cronjobs.valuePath" (merge (dict "path" (list "securityContext" "privileged")) $at))) }}
{{- end }}
{{- if ne (toString $sc.allowPrivilegeEscalation) "false" }}
{{- $problems = append $problems (printf "%s is %s: it must be false" (include "cronjobs.valuePath" (merge (dict "path" (list "securityContext" "allowPrivilegeEscalation")) $at)) (ternary "not set" (toString $sc.allowPrivilegeEscalation) (kindIs "invalid" $sc.allowPrivilegeEscalation))) }}
{{- end }}
{{- $caps := default dict $sc.capabilities }}
{{- if not (has "ALL" (default list $caps.drop)) }}
{{- $problems = append $problems (printf "%s is %s: it must include ALL" (include "cronjobs.valuePath" (merge (dict "path" (list "securityContext" "capabilities" "drop")) $at)) (ternary "not set" (toJson $caps.drop) (kindIs "invalid" $caps.drop))) }}
{{- end }}
{{- $added := without (default list $caps.add) "NET_BIND_SERVICE" }}
{{- if $added }}
{{- $problems = append $problems (printf "%s adds %s: only NET_BIND_SERVICE may be added back; remove the others" (include "cronjobs.valuePath" (merge (dict "path" (list "securityContext" "capabilities" "add")) $at)) (join ", " $added)) }}
{{- end }}
{{- if and (hasKey $sc "procMount") (not (has (toString (default "" $sc.procMount)) (list "" "Default"))) }}
{{- $problems = append $problems (printf "%s is %q: the default /proc masks are required; use Default or remove it" (include "cronjobs.valuePath" (merge (dict "path" (list "securityContext" "procMount")) $at)) (toString $sc.procMount)) }}
{{- end }}
{{- $nonRoot := or (eq (toString $sc.runAsNonRoot) "true") (and (not (hasKey $sc "runAsNonRoot")) (eq (toString $psc.runAsNonRoot) "true")) }}
{{- if and (not $nonRoot) (not (hasKey $sc "runAsNonRoot")) (not (hasKey $psc "runAsNonRoot")) }}
{{- $problems = append $problems (printf "neither %s nor %s is set: set one to true" (include "cronjobs.valuePath" (merge (dict "path" (list "securityContext" "runAsNonRoot")) $at)) (include "cronjobs.valuePath" (merge (dict "path" (list "podSecurityContext" "runAsNonRoot")) $at))) }}
{{- end }}
{{- $seccompSet := false }}
{{- range $ctx := list $sc $psc }}{{ with $ctx.seccompProfile }}{{ if .type }}{{ $seccompSet = true }}{{ end }}{{ end }}{{ end }}
{{- if not $seccompSet }}
{{- $problems = append $problems (printf "neither %s nor %s is set: set one to RuntimeDefault" (include "cronjobs.valuePath" (merge (dict "path" (list "securityContext" "seccompProfile" "type")) $at)) (include "cronjobs.valuePath" (merge (dict "path" (list "podSecurityContext" "seccompProfile" "type")) $at))) }}
{{- end }}
{{- range $name, $value := default dict $cfg.podAnnotations }}
{{- if hasPrefix "container.apparmor.security.beta.kubernetes.io/" $name }}
{{- $v := toString $value }}
{{- if not (or (eq $v "") (eq $v "runtime/default") (hasPrefix "localhost/" $v)) }}
{{- $problems = append $problems (printf "%s is %q: use runtime/default or localhost/<profile>, or remove it" (include "cronjobs.valuePath" (merge (dict "path" (list "podAnnotations" $name)) $at)) $v) }}
{{- end }}
{{- end }}
{{- end }}
{{- $volumeTypes := list "configMap" "csi" "downwardAPI" "emptyDir" "ephemeral" "persistentVolumeClaim" "projected" "secret" }}
{{- range $i, $volume := .root.Values.extraVolumes }}
{{- $sources := without (keys $volume | sortAlpha) "name" }}
{{- $bad := list }}
{{- range $s := $sources }}{{ if not (has $s $volumeTypes) }}{{ $bad = append $bad $s }}{{ end }}{{ end }}
{{- if $bad }}
{{- $problems = append $problems (printf "extraVolumes[%d] (%q) is a %s volume: only %s volumes are allowed; use a PersistentVolumeClaim for other storage" $i (toString $volume.name) (join ", " $bad) (join ", " $volumeTypes)) }}
{{- end }}
{{- end }}
{{- toJson $problems }}
{{- end }}

{{/*
The checkov findings (https://www.checkov.io, run by tests/chart/test_checkov.py) that do not
apply to a job's CronJob, as a JSON list of `CHECK=reason` for `checkov.io/skipN` annotations. Each
is skipped only while the value it depends on keeps it from applying: set resources.limits.cpu,
image.digest or image.pullPolicy Always and the check runs again. Input: dict with "root" and "job".
*/}}
{{- define "cronjobs.checkovSkips" -}}
{{- $skips := list }}
{{- $image := default .root.Values.image .job.image }}
{{- if not (dig "limits" "cpu" "" (default dict .job.resources)) }}
{{- $skips = append $skips "CKV_K8S_11=no CPU limit on purpose: a limit throttles a batch job without protecting the node, and the CPU request reserves its share; set resources.limits.cpu to add one" }}
{{- end }}
{{- $skips = append $skips "CKV_K8S_35=cronjobs reads DATABASE_URL, REDIS_URL, QDRANT_URL and QDRANT_API_KEY from the environment only; each comes from a Secret by secretKeyRef, never inline" }}
{{- if not $image.digest }}
{{- $skips = append $skips "CKV_K8S_43=image.digest is not set, so the image is pulled by tag; set image.digest to pin it" }}
{{- end }}
{{- if ne $image.pullPolicy "Always" }}
{{- $skips = append $skips (printf "CKV_K8S_15=image.pullPolicy is %s: a node reuses the image it has, which is the tested one when image.digest is set or tags are immutable; set image.pullPolicy to Always otherwise" $image.pullPolicy) }}
{{- end }}
{{- toJson $skips }}
{{- end }}

{{/*
The expiry CronJob (`controller.expiry`): its name (also of its ServiceAccount and Role: at most
52 characters) and labels. `app.kubernetes.io/name` is `<name>-cronctl`, not the jobs' name, so
cronctl's default selector, the dashboard, `suspend --all` and the jobs' NetworkPolicy never
select it: a maintenance `suspend --all` must not stop the very CronJob that ends suspensions.
*/}}
{{- define "cronjobs.expiry.name" -}}
{{- include "cronjobs.fullname" . | trunc 45 | trimSuffix "-" }}-expiry
{{- end }}

{{/*
The keeper's name: its Deployment, ServiceAccount, Role, Service (so the `job` label of its
ServiceMonitor's targets), NetworkPolicy, Lease and ServiceMonitor.
*/}}
{{- define "cronjobs.keeper.name" -}}
{{- include "cronjobs.fullname" . | trunc 56 | trimSuffix "-" }}-keeper
{{- end }}

{{- define "cronjobs.expiry.labels" -}}
{{- $labels := include "cronjobs.labels" . | fromYaml }}
{{- $_ := set $labels "app.kubernetes.io/name" (printf "%s-cronctl" (include "cronjobs.name" . | trunc 55 | trimSuffix "-")) }}
{{- $_ := set $labels "app.kubernetes.io/part-of" (include "cronjobs.name" .) }}
{{- $_ := set $labels "app.kubernetes.io/component" "expiry" }}
{{- toYaml $labels }}
{{- end }}

{{/*
The label selector of every CronJob this release renders: the jobs' (app.kubernetes.io/name) and
the expiry CronJob's (`<name>-cronctl`), of this release. The admission policies select on it.
*/}}
{{- define "cronjobs.policy.cronjobSelector" -}}
matchLabels:
  app.kubernetes.io/instance: {{ .Release.Name }}
matchExpressions:
  - key: app.kubernetes.io/name
    operator: In
    values:
      - {{ include "cronjobs.name" . }}
      - {{ get (include "cronjobs.expiry.labels" . | fromYaml) "app.kubernetes.io/name" }}
{{- end }}

{{/*
"true" where the cluster serves admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy: its
discovery lists it (helm install/upgrade; `helm template --api-versions
admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy`), or the version is 1.30+ (GA there;
`helm template` without --api-versions knows only the version).
*/}}
{{- define "cronjobs.admissionPolicyAvailable" -}}
{{- or (.Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy") (semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version) }}
{{- end }}

{{/*
The upgrade hooks' pods (`upgradeHooks.quiesce`): labelled like the expiry CronJob
(`<name>-cronctl`, so the jobs' selector and NetworkPolicy leave them alone), component
upgrade-hook; and the reason their suspend run records, which the post-upgrade hook resumes by.
*/}}
{{- define "cronjobs.hook.labels" -}}
{{- $labels := include "cronjobs.expiry.labels" . | fromYaml }}
{{- $_ := set $labels "app.kubernetes.io/component" "upgrade-hook" }}
{{- toYaml $labels }}
{{- end }}

{{- define "cronjobs.hook.reason" -}}
helm upgrade {{ .Release.Name }} to revision {{ .Release.Revision }}
{{- end }}
