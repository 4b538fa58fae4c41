"""AudioChain's engine: typed audio nodes in a DAG, cached, incremental, headless or in the editor."""
from __future__ import annotations

from .audio import Audio, frames_to_seconds, seconds_to_frames
from .chain import Chain, Step
from .executor import Event, Executor, RunResult, run
from .fileformat import dumps, load, loads, save
from .errors import (AudioChainWarning, AudioError, Cancelled, DefinitionError, ExecutionError, ExportsFailed, FileFormatError, GraphError,
                     NodeflowError, ParameterError)
from .graph import Graph, Link, NodeRef, PortRef
from .node import Context, NodeSpec, node
from .registry import Registry, default_registry
from .timebase import PROFILES, ModelProfile, bars_to_seconds, seconds_to_tokens, tokens_to_seconds
from .types import ChoiceEnum, FilePath, Range, Text

__version__ = "0.1.0"

__all__ = ["Chain", "Step", "Event", "Executor", "RunResult", "run", "dumps", "load", "loads", "save", "Audio",
           "AudioChainWarning", "AudioError", "Cancelled", "ChoiceEnum", "Context", "DefinitionError", "ExecutionError", "ExportsFailed",
           "FileFormatError", "FilePath", "Graph", "GraphError", "Link", "ModelProfile", "NodeRef", "NodeSpec",
           "NodeflowError", "PROFILES", "ParameterError", "PortRef", "Range", "Registry", "Text",
           "bars_to_seconds", "default_registry", "frames_to_seconds", "node", "seconds_to_frames",
           "seconds_to_tokens", "tokens_to_seconds", "__version__"]
