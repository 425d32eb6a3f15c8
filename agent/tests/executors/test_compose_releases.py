from wrktalk_agent.executors.compose_releases import merge_env_files


def test_later_env_sources_win_and_lines_keep_their_quotes() -> None:
    merged = merge_env_files(
        "# defaults\nLOG_LEVEL=info\nTITLE='Wrk Talk'\n",
        'export SECRET_KEY="a=b"\nLOG_LEVEL=debug\nnot an assignment\n',
        "BACKEND_IMAGE_TAG=sha-1\n",
    )
    assert merged == (
        "LOG_LEVEL=debug\nTITLE='Wrk Talk'\nSECRET_KEY=\"a=b\"\nBACKEND_IMAGE_TAG=sha-1\n"
    )
