package stack

import "testing"

// The lines are what each Argo CD line's own payload interceptor
// (util/grpc.PayloadUnaryServerInterceptor) writes for an ApplicationQuery,
// through argocd-server's default log format: text on 2.14, JSON on 3.x.
func TestCountUnaryCalls(t *testing.T) {
	const get = "/application.ApplicationService/Get"
	v2 := `time="2026-12-03T17:23:58Z" level=info msg="received unary call /application.ApplicationService/Get" grpc.request.content="name:\"s5-sq\" projects:\"default\" "`
	v3 := `{"grpc.request.content":{"name":"s5-sq","projects":["default"]},"level":"info","msg":"received unary call /application.ApplicationService/Get","time":"2026-12-03T17:18:39Z"}`
	other := `time="2026-12-03T17:23:58Z" level=info msg="received unary call /application.ApplicationService/Get" grpc.request.content="name:\"s5-sq2\" "` + "\n" +
		`{"grpc.request.content":{"name":"s5-sq2"},"level":"info","msg":"received unary call /application.ApplicationService/Get"}` + "\n" +
		`time="2026-12-03T17:23:58Z" level=info msg="received unary call /application.ApplicationService/Sync" grpc.request.content="name:\"s5-sq\" "` + "\n" +
		`{"grpc.request.content":{"name":"s5-sq"},"level":"info","msg":"received unary call /application.ApplicationService/Sync"}` + "\n" +
		`time="2026-12-03T17:23:58Z" level=info msg="received unary call /application.ApplicationService/Get" grpc.request.content="appNamespace:\"x\" projects:\"default\" resourceName:\"s5-sq\" "` + "\n" +
		`{"level":"info","msg":"finished call","grpc.method":"Get","name":"s5-sq"}`
	for _, tc := range []struct {
		name, log string
		want      int
	}{
		{"v2.14 text", v2, 1},
		{"v3 json", v3, 1},
		{"both, twice, among others", v2 + "\n" + other + "\n" + v3 + "\n" + v2 + "\n" + v3, 4},
		{"other apps, methods and fields", other, 0},
		{"empty", "", 0},
	} {
		if got := countUnaryCalls(tc.log, get, "s5-sq"); got != tc.want {
			t.Errorf("%s: countUnaryCalls = %d, want %d", tc.name, got, tc.want)
		}
	}
}
